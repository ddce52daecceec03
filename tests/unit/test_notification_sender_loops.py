"""Several sending loops per channel share the channel's rate limit: each reserves its batch before claiming and gives
back what the claim did not use, so together they never claim more than the limit allows."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from services.notification.sender import Sender
from services.notification.settings import NotificationSettings


class _Recorder(Sender):
    """The loops as they run, with the claim replaced: it takes everything it may, after a moment on the 'database'."""

    def __init__(self, settings: NotificationSettings, due: int) -> None:
        super().__init__(pool=None, settings=settings, keyring=None, channels={"email": object()})  # type: ignore[arg-type, dict-item]
        self.due, self.claims, self.claimed_by = due, [], set()

    async def send_due(self, name, now, limit):  # type: ignore[no-untyped-def, override]
        self.claimed_by.add(asyncio.current_task().get_name())  # type: ignore[union-attr]
        await asyncio.sleep(0.01)  # the claim's round trip: the other loops run meanwhile
        n = min(limit, self.due)
        self.due -= n
        self.claims.append(n)
        return n


async def _run(sender: Sender, seconds: float) -> None:
    await sender.start()
    await asyncio.sleep(seconds)
    for task in sender._tasks:
        task.cancel()
    await asyncio.gather(*sender._tasks, return_exceptions=True)


def test_three_loops_together_claim_no_more_than_the_rate_allows() -> None:
    settings = replace(NotificationSettings(), rates={"email": 100.0}, sender_loops={"email": 3}, batch_size=500, poll_seconds=0.05)
    sender = _Recorder(settings, due=10_000)
    asyncio.run(_run(sender, 0.5))
    assert len(sender._tasks) == 3 and len(sender.claimed_by) == 3  # all three took part
    # a second's burst (100) and half a second's refill (50); one loop each seeing the full bucket would claim 300 at once
    assert 100 <= sum(sender.claims) <= 151


def test_what_a_claim_did_not_use_goes_back_to_the_limit() -> None:
    settings = replace(NotificationSettings(), rates={"email": 100.0}, sender_loops={"email": 2}, batch_size=500, poll_seconds=0.05)
    sender = _Recorder(settings, due=30)  # less than the reservation: 70 tokens must return
    asyncio.run(_run(sender, 0.2))
    assert sum(sender.claims) == 30
    # 30 spent, the rest back (and some refill); kept, the reservation would leave about 20
    assert sender.limits["email"].available() >= 70


def test_the_loops_per_channel_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKOLIT_NOTIFICATION_SENDER_LOOPS", "email=5")
    loops = NotificationSettings.from_env().sender_loops
    assert loops["email"] == 5 and loops["sms"] == 1 and loops["push"] == 1


def test_while_nothing_is_due_only_one_loop_per_channel_asks_the_database() -> None:
    settings = replace(NotificationSettings(), rates={"email": 100.0}, sender_loops={"email": 3}, poll_seconds=0.05)
    sender = _Recorder(settings, due=0)
    asyncio.run(_run(sender, 0.6))
    # one loop polling every 0.05 s plus its 0.01 s claim: about 10 claims; three loops polling would make about 30
    assert sender.claimed_by == {"notification-sender-email-0"} and len(sender.claims) <= 12
