"""Notification's senders and planner in a process of their own (`python -m services.notification work`, decision 0029):
the session's notification process is restarted with SKOLIT_NOTIFICATION_WORKERS=elsewhere and a `work` process is
started beside it, on the same database; the module gives the session its own notification back afterwards.

What must hold: the work process sends what the API accepted (and reports it in its own metrics), the API process
sends nothing by itself — a message waits while no work process runs and goes out once one runs again, nothing lost —
and what the API's requests do with the senders still works there: an operator's "send now"."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

from devkit.embedded import free_port
from devkit.process import ServiceProcess
from tests.integration.test_notification_channels import NO_QUIET, make_school, settled, to_guardians
from tests.support.replicas import metric_sum
from tests.support.stack import Stack, auth, restart

pytestmark = pytest.mark.integration
SMS_NOW = {**NO_QUIET, "choices": [{"messageType": "broadcast", "channel": "sms", "mode": "instant"}]}
#: many times the senders' poll interval (0.25 s): a sending loop in the API process would have sent by then
QUIET_S = 3.0


@dataclass
class Apart:
    stack: Stack
    api: ServiceProcess
    work: ServiceProcess


@pytest.fixture(scope="module")
def apart(stack: Stack) -> Iterator[Apart]:
    api = stack.services["notification"]
    original = dict(api.env)
    restart(api, {**original, "SKOLIT_NOTIFICATION_WORKERS": "elsewhere"}, "--- senders in a work process (test_sending_apart)")
    port = free_port()
    work = ServiceProcess("notification-work", port, {**original, "SKOLIT_NOTIFICATION_WORK_PORT": str(port)},
                          stack.workdir / "notification-work.log",
                          argv=[sys.executable, "-m", "services.notification", "work"])
    try:
        work.start()
        work.wait_ready()
        yield Apart(stack, api, work)
    finally:
        if work.exited() is None:
            work.terminate()
        restart(api, original, "--- senders back in the API process")


def sent(process: ServiceProcess, channel: str) -> float:
    return metric_sum(httpx.get(f"{process.url}/metrics", timeout=5).text, "skolit_notification_deliveries_total", channel=channel, state="accepted")


async def state(conn: asyncpg.Connection, person: object) -> str:
    return await conn.fetchval("SELECT state FROM notification.delivery WHERE person = $1 AND channel = 'sms' ORDER BY id DESC LIMIT 1", person)


async def test_the_work_process_sends_and_the_api_process_only_answers(apart: Apart) -> None:
    stack = apart.stack
    assert stack.sinks is not None
    url = apart.api.url
    async with httpx.AsyncClient(timeout=30) as http:
        # a school each, so each broadcast reaches one guardian
        schools = {g: await make_school(stack, http, {g: {"contacts": {"mobile": f"+4670123451{i}"}, "prefs": SMS_NOW}}, name=f"Sjöviksskolan {g}")
                   for i, g in enumerate("abc")}
        conn = await asyncpg.connect(stack.admin_url)
        try:
            async def broadcast(guardian: str, subject: str) -> None:
                s = schools[guardian]
                r = await http.post(f"{url}/broadcasts", headers=s.principal(),
                                    json={"audience": to_guardians(s), "subject": subject, "body": "Ta med matsäck."})
                assert r.status_code == 201, r.text

            # the work process runs: it sends, and the API process has sent nothing of its own
            await broadcast("a", "Friluftsdag")
            await settled(conn, schools["a"].guardians["a"], {"sms": ("instant", "delivered"), "inapp": ("instant", "delivered")})
            assert sent(apart.work, "sms") >= 1
            assert sent(apart.api, "sms") == 0
            assert stack.sinks.messages(channel="sms", to="+46701234510")

            # no work process: the API accepts the broadcast, and the message waits instead of going out
            apart.work.terminate()
            await broadcast("b", "Utvecklingssamtal")
            await asyncio.sleep(QUIET_S)
            assert await state(conn, schools["b"].guardians["b"]) == "queued"
            assert not stack.sinks.messages(channel="sms", to="+46701234511")
            # ... until one runs again: then it goes out, once
            apart.work.start(banner="--- started again")
            apart.work.wait_ready()
            await settled(conn, schools["b"].guardians["b"], {"sms": ("instant", "delivered"), "inapp": ("instant", "delivered")})
            assert len(stack.sinks.messages(channel="sms", to="+46701234511")) == 1

            # an operator's "send now" is answered by the API process itself, with no work process running
            apart.work.terminate()
            await broadcast("c", "Skolavslutning")
            now = await http.post(f"{url}/deliveries/send", json={}, headers=auth("city_admin"))
            assert now.status_code == 200, now.text
            assert now.json()["claimed"]["sms"] >= 1
            assert len(stack.sinks.messages(channel="sms", to="+46701234512")) == 1
            assert sent(apart.api, "sms") >= 1
        finally:
            await conn.close()
