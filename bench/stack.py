"""The whole of Skolit for the summary benchmarks (bench/summary.py): an embedded PostgreSQL, the embedded
Tansu broker and the four services, each as a process of its own, started as the test stack starts them
(tests/support/stack.py) but quieter; plus what the summary needs around them:

- ``wait_quiet``: before a full measurement, wait until the machine is quiet (1-minute load average
  below 1.0, checked every 10 s for up to 30 minutes) and record the load average at the start;
- ``ResourceSampler``: every 0.5 s, each service's resident set (psutil), and CPU seconds per process, so
  the summary can say what each process and everything else on the machine used;
- an optional pyinstrument profile of any service (``profile={"catalog": path}``): the service runs under
  ``python -m pyinstrument`` and writes its profile when it stops.

``Stack(engine="kafka")`` (``--engine kafka`` of bench.city_ingest and bench.freshness) runs a three-node Apache
Kafka cluster instead of Tansu (devkit/kafka: the production settings — replication factor 3, ``min.insync.replicas``
2 — heap 384 MiB per node); the services then create their topics with replication factor 3, and the raw baselines
measured in the same run (bench/broker_limit.py, the freshness floor) use the same (``replication_factor()``).

Every process started here is stopped by ``Stack.stop()`` (call it in a ``finally``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil

from bench.process import ServiceProcess
from shared.db import ensure_database, provision
from devkit.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from devkit.kafka import KafkaCluster
from shared.settings import SERVICES
from shared.topics import ensure_topics

ROOT = Path(__file__).resolve().parents[1]
QUIET_LOAD = 1.0
QUIET_POLL_S = 10.0
QUIET_LIMIT_S = 1800.0
SAMPLE_S = 0.5
#: the engines a benchmark can run on (``--engine``)
ENGINES = ("tansu", "kafka")
ENGINE_LABEL = {"tansu": "Tansu (embedded)", "kafka": "Apache Kafka, three brokers"}
_replication = {"factor": 1}


def replication_factor() -> int:
    """The replication factor of topics on this process's benchmark broker: 3 once a Kafka Stack started, else 1."""
    return _replication["factor"]


def engine_argument(parser: Any) -> None:
    parser.add_argument("--engine", choices=ENGINES, default="tansu",
                        help="the broker: the embedded Tansu (default) or a three-node Apache Kafka cluster (devkit/kafka)")


# --- a quiet machine -----------------------------------------------------------------------------

def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def busy_percent(seconds: float = 5.0) -> float:
    """How busy the whole machine is right now: CPU use over ``seconds``, percent of all cores."""
    return round(psutil.cpu_percent(interval=seconds), 1)


def wait_quiet(threshold: float = QUIET_LOAD, *, every: float = QUIET_POLL_S, limit: float = QUIET_LIMIT_S, enabled: bool = True,
               busy_below: float | None = None, say: Callable[[str], None] = lambda s: print(s, flush=True)) -> dict[str, Any]:
    """Polls the 1-minute load average until it is below ``threshold`` (every ``every`` s, up to ``limit`` s).

    With ``busy_below`` (percent), the machine also counts as quiet when its CPU use over the last 5 s is below that:
    between two parts of ``make bench`` the load average still carries the previous part for a minute or two (it
    decays with a one-minute time constant) while nothing runs any longer. Returns the load average when the wait
    ended, the busy percentage, how long it waited, and whether it was quiet."""
    started = time.monotonic()
    while True:
        load = load_average()
        busy = busy_percent() if busy_below is not None and enabled else None
        quiet = load[0] < threshold or (busy is not None and busy < busy_below)
        if not enabled or quiet:
            return {"loadAverage": load, "busyPercent": busy, "waitedSeconds": round(time.monotonic() - started, 1), "quiet": quiet, "checked": enabled}
        waited = time.monotonic() - started
        if waited >= limit:
            say(f"  the machine is still busy after {waited / 60:.0f} min (load {load}); measuring anyway, the report says so")
            return {"loadAverage": load, "busyPercent": busy, "waitedSeconds": round(waited, 1), "quiet": False, "checked": True}
        say(f"  waiting for a quiet machine: load average {load[0]:.2f} (want < {threshold})"
            + (f", CPU {busy:.0f}% busy (want < {busy_below:.0f}%)" if busy is not None else "") + f", waited {waited:.0f} s ...")
        time.sleep(every)


# --- memory and CPU per process ------------------------------------------------------------------

def _cpu_seconds(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


class ResourceSampler:
    """A thread that samples, every ``interval`` s, the resident set of each tracked process and the CPU
    seconds of each process in the tracked trees; ``phase(label)`` marks a span whose peaks are kept apart.

    ``track(name, pid)`` follows one process (a service); ``track_tree(name, pid)`` adds a process and all its
    descendants to the CPU accounting under ``name`` (PostgreSQL's backends, a benchmark subprocess);
    ``match(name, pattern)`` makes any descendant of a tracked tree whose command line matches ``pattern``
    count as ``name`` for memory (the services a benchmark subprocess starts)."""

    def __init__(self, interval: float = SAMPLE_S) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._single: dict[str, psutil.Process] = {}
        self._trees: dict[str, psutil.Process] = {}
        self._patterns: list[tuple[str, re.Pattern[str]]] = []
        self._cpu_by_pid: dict[int, tuple[str, float]] = {}  # pid -> (name, last seen CPU seconds)
        self.peak: dict[str, float] = {}  # MiB, over the whole life of the sampler
        self.first: dict[str, float] = {}  # MiB, the first sample (just after start: idle)
        self.samples = 0
        self._phase: str | None = None
        self.phase_peak: dict[str, dict[str, float]] = {}
        self._machine_busy0 = self._machine_busy()
        self._cpu_at_phase: dict[str, tuple[dict[str, float], float, float]] = {}
        self.phase_cpu: dict[str, dict[str, float]] = {}

    # what to follow
    def track(self, name: str, pid: int | None) -> None:
        if pid:
            with self._lock, contextlib.suppress(psutil.Error):
                self._single[name] = psutil.Process(pid)
                self._trees[name] = self._single[name]

    def track_tree(self, name: str, pid: int | None) -> None:
        if pid:
            with self._lock, contextlib.suppress(psutil.Error):
                self._trees[name] = psutil.Process(pid)

    def match(self, name: str, pattern: str) -> None:
        with self._lock:
            self._patterns.append((name, re.compile(pattern)))

    # running
    def start(self) -> ResourceSampler:
        self._thread = threading.Thread(target=self._run, name="resource-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._sample()

    @contextlib.contextmanager
    def phase(self, label: str) -> Iterator[None]:
        self._sample()
        with self._lock:
            self._phase = label
            self.phase_peak.setdefault(label, {})
            self._cpu_at_phase[label] = (self.cpu_totals(locked=True), self._machine_busy(), time.monotonic())
        try:
            yield
        finally:
            self._sample()
            with self._lock:
                self._phase = None
                before, busy0, t0 = self._cpu_at_phase.pop(label)
                after, busy1 = self.cpu_totals(locked=True), self._machine_busy()
                ours = {k: round(after.get(k, 0.0) - before.get(k, 0.0), 2) for k in after}
                ours["other processes"] = round(max((busy1 - busy0) - sum(ours.values()), 0.0), 2)
                ours["wallSeconds"] = round(time.monotonic() - t0, 2)
                self.phase_cpu[label] = ours

    def cpu_totals(self, locked: bool = False) -> dict[str, float]:
        """CPU seconds per tracked name so far (a process that ended counts with what it had at its last sample)."""
        ctx = contextlib.nullcontext() if locked else self._lock
        with ctx:
            out: dict[str, float] = {}
            for name, cpu in self._cpu_by_pid.values():
                out[name] = out.get(name, 0.0) + cpu
            return out

    @staticmethod
    def _machine_busy() -> float:
        t = psutil.cpu_times()
        return t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        with self._lock:
            self.samples += 1
            rss: dict[str, float] = {}
            for name, p in list(self._single.items()):
                with contextlib.suppress(psutil.Error):
                    rss[name] = p.memory_info().rss / 2**20
            roots = {root.pid: name for name, root in self._trees.items()}

            def walk(p: psutil.Process, name: str) -> Iterator[psutil.Process]:
                yield p
                with contextlib.suppress(psutil.Error):
                    for child in p.children():
                        if roots.get(child.pid, name) == name:  # another tracked tree counts for itself
                            yield from walk(child, name)

            for name, root in list(self._trees.items()):
                for p in walk(root, name):
                    try:
                        cpu = _cpu_seconds(p)
                        self._cpu_by_pid[p.pid] = (name, max(cpu, self._cpu_by_pid.get(p.pid, (name, 0.0))[1]))
                        if self._patterns and p is not root:
                            cmd = " ".join(p.cmdline())
                            for label, pattern in self._patterns:
                                if pattern.search(cmd):
                                    rss[label] = max(rss.get(label, 0.0), p.memory_info().rss / 2**20)
                    except psutil.Error:
                        continue
            for name, mib in rss.items():
                self.peak[name] = max(self.peak.get(name, 0.0), mib)
                self.first.setdefault(name, mib)
                if self._phase is not None:
                    bucket = self.phase_peak[self._phase]
                    bucket[name] = max(bucket.get(name, 0.0), mib)


def vm_hwm(pid: int | None) -> float | None:
    """The kernel's own peak resident set (VmHWM) of a process since it started, MiB."""
    if not pid:
        return None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


# --- the services --------------------------------------------------------------------------------

class BenchService(ServiceProcess):
    """A service process; with ``profile`` it runs under pyinstrument, which writes a text profile (and an
    HTML one beside it) when the service stops."""

    def __init__(self, name: str, admin_url: str, workdir: Path, bootstrap: str, env: dict[str, str] | None = None,
                 profile: Path | None = None, experiment: str | None = None) -> None:
        super().__init__(name, admin_url, workdir, bootstrap)
        self.env["SKOLIT_ALLOW_CLOCK_OVERRIDE"] = "true"
        self.env.update(env or {})
        self.profile = profile
        self.experiment = experiment
        if experiment:
            self.env["SKOLIT_BENCH_EXPERIMENT"] = experiment

    def start(self) -> None:
        if self.profile is None and not self.experiment:
            return super().start()
        # bench/experiment.py applies the experiment, then runs the service module as python -m would
        target = ["-m", "bench.experiment", f"services.{self.name}"] if self.experiment else ["-m", f"services.{self.name}"]
        cmd = [sys.executable, *target]
        if self.profile is not None:
            self.profile.parent.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, "-m", "pyinstrument", "--renderer", "pyisession", "--outfile", str(self.profile), "--interval", "0.001", *target]
        super().start(cmd)

    def stop(self) -> None:
        # uvicorn re-raises a SIGTERM it caught once it has shut down, which ends the process before pyinstrument
        # writes; after SIGINT it raises KeyboardInterrupt instead, which pyinstrument catches and then writes.
        if self.profile is not None and self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=90)
        super().stop()

    def wait_ready(self, timeout: float = 120) -> None:
        self.wait_until(lambda client: client.get("/readyz").status_code == 200, "ready", timeout)


def postmaster_pid(postgres: EmbeddedPostgres) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((postgres.data_dir / "postmaster.pid").read_text().splitlines()[0])
    return None


class Stack:
    """PostgreSQL + Tansu (``start``), then the services (``start_services``); ``stop`` ends them all."""

    def __init__(self, prefix: str, *, services: tuple[str, ...] = SERVICES, env: dict[str, dict[str, str]] | None = None,
                 profile: dict[str, Path] | None = None, experiment: str | None = None, keep: bool = False, engine: str = "tansu") -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine {engine!r}: one of {', '.join(ENGINES)}")
        self.engine = engine
        self.kafka: KafkaCluster | None = None
        self.workdir = Path(tempfile.mkdtemp(prefix=f"skolit-bench-{prefix}-"))
        self.names = services
        self.env = env or {}
        self.profile = profile or {}
        self.experiment = experiment
        self.keep = keep
        self.postgres = EmbeddedPostgres(self.workdir / "pgdata", free_port())
        self.broker: EmbeddedBroker | None = None
        self.services: dict[str, BenchService] = {}
        self.admin_url = ""
        self.bootstrap = ""
        self.sampler = ResourceSampler()

    def start(self) -> Stack:
        print(f"PostgreSQL and {ENGINE_LABEL[self.engine]} in {self.workdir} ...", flush=True)
        self.admin_url = self.postgres.start()
        rf = 1
        if self.engine == "kafka":
            self.kafka = KafkaCluster(self.workdir / "kafka", nodes=3)
            self.bootstrap = self.kafka.start()
            rf = _replication["factor"] = self.kafka.replication_factor
            for name in self.names:
                self.env.setdefault(name, {})["SKOLIT_TOPIC_REPLICATION_FACTOR"] = str(rf)
        else:
            self.broker = EmbeddedBroker(free_port(), log_path=self.workdir / "tansu.log")
            self.bootstrap = self.broker.start()

        async def prepare() -> None:
            await ensure_database(self.admin_url)
            await provision(self.admin_url)
            await ensure_topics(self.bootstrap, rf)

        asyncio.run(prepare())
        self.sampler.track_tree("postgres", postmaster_pid(self.postgres))
        if self.broker is not None:
            self.sampler.track_tree("tansu", self.broker._proc.pid if self.broker._proc else None)
        if self.kafka is not None:
            for node_id in self.kafka.node_ids:
                self.sampler.track_tree(f"kafka-{node_id}", self.kafka.pid(node_id))
        self.sampler.track_tree("benchmark", os.getpid())
        self.sampler.start()
        return self

    def start_services(self, names: tuple[str, ...] | None = None) -> None:
        for name in names or self.names:
            svc = BenchService(name, self.admin_url, self.workdir, self.bootstrap, self.env.get(name), self.profile.get(name), self.experiment)
            self.services[name] = svc
            svc.start()
        for name in names or self.names:
            svc = self.services[name]
            svc.wait_ready()
            assert svc.proc is not None
            self.sampler.track(name, svc.proc.pid)
        print("services ready: " + ", ".join(f"{n} {s.url}" for n, s in self.services.items()), flush=True)

    def stop_services(self) -> None:
        for svc in self.services.values():
            svc.stop()

    def peak_rss(self) -> dict[str, dict[str, float | None]]:
        """Per service: the peak of the 0.5 s samples, the first sample (just after start), and VmHWM."""
        out = {}
        for name, svc in self.services.items():
            out[name] = {"peakRssMiB": round(self.sampler.peak.get(name, 0.0), 1) or None,
                         "idleRssMiB": round(self.sampler.first.get(name, 0.0), 1) or None,
                         "vmHwmMiB": vm_hwm(svc.proc.pid if svc.proc else None)}
        return out

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.sampler.stop()
        for svc in self.services.values():
            with contextlib.suppress(Exception):
                svc.stop()
        if self.broker is not None:
            with contextlib.suppress(Exception):
                self.broker.stop()
        if self.kafka is not None:
            with contextlib.suppress(Exception):
                self.kafka.stop()
        with contextlib.suppress(Exception):
            self.postgres.stop()
        if self.keep:
            print(f"kept {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def terminate_on_sigterm() -> None:
    """So a ``finally`` stops every process when the benchmark itself is stopped with SIGTERM."""
    def _raise(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)


IDLE_FUNCTIONS = {"select", "poll", "epoll", "_run_once"}  # the event loop waiting for I/O


def profile_top(path: Path, n: int = 15) -> list[str]:
    """The hot frames of a pyinstrument session (``.pyisession``): the functions with the most *self* time (where the
    CPU was, without the event loop's idle wait), and the project's own functions by cumulative time."""
    try:
        from pyinstrument.session import Session

        session = Session.load(str(path))
    except Exception as exc:  # noqa: BLE001 - a profile is extra information
        return [f"(no profile: {exc})"]
    root = session.root_frame()
    if root is None:
        return ["(empty profile)"]
    self_time: dict[str, float] = {}
    cumulative: dict[str, float] = {}
    callers: dict[str, dict[str, float]] = {}  # hot frame -> the nearest project function above it -> seconds
    idle = 0.0

    def label(f: Any) -> str:
        return f"{f.function}  {f.file_path_short}:{f.line_no}"

    def walk(f: Any, open_app: frozenset[str], parent: Any = None, app_caller: str = "") -> None:
        nonlocal idle
        own = f.time - sum(c.time for c in f.children)
        real = parent if (f.is_synthetic and parent is not None) else f  # "[self]": time in the parent itself (or C it called)
        name = label(real)
        if real.function in IDLE_FUNCTIONS or f.function in ("[await]", "[sleep]") or \
                (real.function in ("run", "run_until_complete") and "asyncio" in str(real.file_path)):
            idle += own  # uvloop's loop is C: its wait for I/O is time "in" Runner.run itself
        else:
            self_time[name] = self_time.get(name, 0.0) + own
            by = callers.setdefault(name, {})
            by[app_caller] = by.get(app_caller, 0.0) + own
        is_app = bool(f.file_path) and str(ROOT) in str(f.file_path) and "/.venv/" not in str(f.file_path) and not f.is_synthetic
        if is_app and name not in open_app:  # count a function once per stack, however deep it recurses
            cumulative[name] = cumulative.get(name, 0.0) + f.time
            open_app = open_app | {name}
        caller = name if is_app else app_caller
        for c in f.children:
            walk(c, open_app, real, caller)

    walk(root, frozenset())
    busy = root.time - idle
    out = [f"{session.duration:.1f} s recorded, {session.cpu_time:.1f} s CPU; {idle:.1f} s in the event loop itself (uvloop: waiting for I/O, "
           f"and its own C work), {busy:.1f} s in Python frames (wall time, including waits for a free CPU)",
           f"self time (top {n}, % of the running time):"]
    for i, (name, t) in enumerate(sorted(self_time.items(), key=lambda kv: -kv[1])[:n]):
        out.append(f"  {t:7.2f} s {100 * t / busy:5.1f}%  {name}")
        if i < 3:  # for the hottest frames: from which of the project's functions
            for who, w in sorted(callers.get(name, {}).items(), key=lambda kv: -kv[1])[:4]:
                out.append(f"  {'':>17}  {w:6.2f} s via {who.split('  ')[0] or '(no project frame)'} ({who.split('  ')[1] if '  ' in who else ''})")
    out.append(f"the project's own functions, cumulative wall time (top {n}, % of the {root.time:.1f} s recorded):")
    for name, t in sorted(cumulative.items(), key=lambda kv: -kv[1])[:n]:
        out.append(f"  {t:7.2f} s {100 * t / root.time:5.1f}%  {name}")
    return out


#: libraries a cProfile's self time is summed under (bench/broadcast.py --profile), first match wins
CPROFILE_GROUPS = (
    ("HTTP client (httpx, httpcore, anyio, sniffio)", ("/httpx/", "/httpcore/", "/anyio/", "/sniffio/")),
    ("HTTP/1.1 parsing (h11)", ("/h11/",)),
    ("HTTP server (uvicorn, Starlette, FastAPI)", ("/uvicorn/", "/starlette/", "/fastapi/")),
    ("SMTP (aiosmtplib, email)", ("/aiosmtplib/", "/email/")),
    ("asyncpg", ("/asyncpg/",)),
    ("Kafka (aiokafka, FastStream)", ("/aiokafka/", "/faststream/")),
    ("pydantic", ("/pydantic",)),
    ("prometheus_client", ("/prometheus_client/",)),
    ("asyncio and the standard library", ("/lib/python3",)),
)
SKOLIT_GROUP = "Skolit (shared/, services/)"  # a file outside site-packages under shared/ or services/ (of any checkout)


def cprofile_top(path: Path, n: int = 12) -> list[str]:
    """A cProfile file (``python -m cProfile -o``) in a few lines: self time summed per library, then the functions with
    the most self time. cProfile times wall clock, so on a full machine a frame is also charged the time it waited for a
    CPU: the shares mean more than the seconds."""
    import pstats

    try:
        stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - a profile is extra information
        return [f"(no profile: {exc})"]
    total = sum(v[2] for v in stats.values()) or 1.0
    groups: dict[str, float] = {}
    for (file, _line, _fn), v in stats.items():
        if "site-packages" not in file and ("/shared/" in file or "/services/" in file):
            group = SKOLIT_GROUP
        else:
            group = next((g for g, keys in CPROFILE_GROUPS if any(k in file for k in keys)), "C built-ins and other")
        groups[group] = groups.get(group, 0.0) + v[2]
    out = [f"{total:.1f} s of self time (cProfile, wall clock); by library:"]
    out += [f"  {t:7.1f} s {100 * t / total:5.1f}%  {g}" for g, t in sorted(groups.items(), key=lambda kv: -kv[1])]
    out.append(f"functions, self time (top {n}):")
    for (file, line, fn), v in sorted(stats.items(), key=lambda kv: -kv[1][2])[:n]:
        short = file.split("site-packages/")[-1].split("/lib/python3.11/")[-1]
        for top in ("/shared/", "/services/"):
            short = top[1:] + short.split(top, 1)[1] if "site-packages" not in file and top in short else short
        out.append(f"  {v[2]:7.1f} s {100 * v[2] / total:5.1f}%  {fn}  {short}:{line}  ({v[1]:,} calls)")
    return out
