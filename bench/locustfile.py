"""Locust users for bench/http_reads.py: the school report (reporting), the catalogue search (catalog) and a
guardian's inbox (notification), one user class each with the same weight; ``-u N`` users make
``N × BENCH_READS_PER_USER`` requests per second in all.

Each user starts its requests as a Poisson process (exponential gaps between *start* times, the schedule kept
whatever the answers take; if an answer comes after the next start was due, the next request goes at once), so the
users together are the arrivals of many independent people. Locust's ``constant_throughput`` would keep every
user in the phase it was spawned in: the users start together, and the load then comes as one burst of N requests
per period, which measures a queue of N, not the rate.

    BENCH_READS_DATA=/tmp/.../reads.json BENCH_READS_PER_USER=5.55 BENCH_READS_OUT=/tmp/.../raw.json \\
        .venv/bin/locust -f bench/locustfile.py --headless -u 90 -r 90 --run-time 60s --csv /tmp/.../reads

``BENCH_READS_DATA`` (written by bench/http_reads.py) holds the services' addresses, tokens, school unit ids,
guardians with their own tokens and the search queries. Every request's own latency (ms, to the full body)
is also written to ``BENCH_READS_OUT`` with its start time, so the benchmark computes exact percentiles.
"""

from __future__ import annotations

import json
import os
import random
import time

import gevent
from locust import FastHttpUser, events, task

DATA = json.loads(open(os.environ["BENCH_READS_DATA"], encoding="utf-8").read())
PER_USER = float(os.environ.get("BENCH_READS_PER_USER", "5"))
OUT = os.environ.get("BENCH_READS_OUT")
SAMPLES: list[tuple[str, float, float, int]] = []  # (name, start, ms, ok)


def poisson(self: FastHttpUser) -> float:
    """Seconds to wait until this user's next scheduled start (exponential gaps at PER_USER per second)."""
    now = time.monotonic()
    nxt = getattr(self, "_next_start", now) + random.expovariate(PER_USER)
    self._next_start = nxt
    return max(0.0, nxt - now)


class Reader(FastHttpUser):
    abstract = True
    wait_time = poisson

    def on_start(self) -> None:
        # users are spawned together: each begins at a random point of its first interval
        gevent.sleep(random.expovariate(PER_USER))
        self._next_start = time.monotonic()


@events.request.add_listener
def _record(request_type: str, name: str, response_time: float, response_length: int, exception: Exception | None = None,
            start_time: float | None = None, **_: object) -> None:
    SAMPLES.append((name, start_time or time.time(), response_time, 0 if exception else 1))


@events.quitting.add_listener
def _write(**_: object) -> None:
    if OUT:
        with open(OUT, "w", encoding="utf-8") as f:
            json.dump(SAMPLES, f)


class SchoolReport(Reader):
    host = DATA["hosts"]["reporting"]
    headers = {"Authorization": "Bearer " + DATA["tokens"]["reporting"]}

    @task
    def report(self) -> None:
        school = random.choice(DATA["schools"])
        self.client.get(f"/school-units/{school}/report", headers=self.headers, name="school report")


class CatalogSearch(Reader):
    host = DATA["hosts"]["catalog"]
    headers = {"Authorization": "Bearer " + DATA["tokens"]["catalog"]}

    @task
    def search(self) -> None:
        self.client.get("/apps?" + random.choice(DATA["queries"]), headers=self.headers, name="catalogue search")


class Inbox(Reader):
    host = DATA["hosts"]["notification"]

    @task
    def inbox(self) -> None:
        person, token = random.choice(DATA["guardians"])
        self.client.get(f"/persons/{person}/messages", headers={"Authorization": "Bearer " + token}, name="inbox")
