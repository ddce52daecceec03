"""What a handler's exception does to a batch (shared/consumer.py, issue 18): the event's fault (a rejection, a
value the rules refuse, a data error PostgreSQL raises for the event's content) dead-letters just that event; a
bug (KeyError, TypeError, AttributeError, any other PostgreSQL error) is not bad input: it leaves
``BatchProcessor.process`` with nothing of the batch applied or dead-lettered, so the consume loop reads it again.

No database: a fake pool whose connection keeps what a transaction wrote only when it commits, savepoints included.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from shared.consumer import TransientFailure, REJECTIONS, BatchProcessor, Handlers, Statement
from shared.events.city import OrganisationType, OrganisationUpserted
from shared.events.envelope import Envelope, PermanentError, Rejected, encode, new_envelope
from shared.privacy import vault
from tests.support.records import FakeRecord

# --- a fake pool: writes become visible only when their transaction commits ------------------------------


@dataclass
class FakeConnection:
    #: what committed transactions wrote: ("inbox", id), ("apply", name), ("letter", topic, headers), ("outcome", ids)
    committed: list[tuple[Any, ...]] = field(default_factory=list)
    #: one list of pending writes per open transaction or savepoint, outermost first
    open: list[list[tuple[Any, ...]]] = field(default_factory=list)
    transactions: int = 0
    rollbacks: int = 0

    def _write(self, row: tuple[Any, ...]) -> None:
        assert self.open, "a write outside a transaction"
        self.open[-1].append(row)

    def _visible(self) -> list[tuple[Any, ...]]:
        return self.committed + [row for level in self.open for row in level]

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        self.transactions += 1
        self.open.append([])
        try:
            yield
        except BaseException:
            self.open.pop()
            self.rollbacks += 1
            raise
        done = self.open.pop()
        (self.open[-1] if self.open else self.committed).extend(done)

    def transaction(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self._transaction()

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        assert sql.startswith("INSERT INTO inbox"), sql
        seen = {row[1] for row in self._visible() if row[0] == "inbox"}
        fresh = []
        for event_id in dict.fromkeys(args[0]):
            if event_id not in seen:
                self._write(("inbox", event_id))
                fresh.append({"event_id": event_id})
        return fresh

    async def execute(self, sql: str, *args: Any) -> str:
        if sql.startswith("INSERT INTO outbox"):
            self._write(("letter", args[1], dict(args[3])))
        elif sql.startswith("UPDATE inbox"):
            self._write(("outcome", tuple(args[0])))
        else:
            self._write(("apply", *args))
        return "OK"

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        for row in rows:
            self._write(("apply", *row))

    def rows(self, kind: str) -> list[tuple[Any, ...]]:
        return [row for row in self.committed if row[0] == kind]


@dataclass
class FakePool:
    conn: FakeConnection = field(default_factory=FakeConnection)

    @contextlib.asynccontextmanager
    async def _acquire(self) -> AsyncIterator[FakeConnection]:
        yield self.conn

    def acquire(self) -> contextlib.AbstractAsyncContextManager[FakeConnection]:
        return self._acquire()


# --- events and handlers ---------------------------------------------------------------------------------


def record(offset: int, name: str) -> FakeRecord:
    wire = encode(new_envelope(OrganisationUpserted(id=uuid.uuid4(), displayName=name, organisationType=OrganisationType.SKOLENHET), "tests"))
    return FakeRecord(wire.topic, 0, offset, wire.key, wire.value, list(wire.headers))


def batch(*names: str) -> list[Any]:  # FakeRecords, as the consumer's Record protocol
    return [record(i, name) for i, name in enumerate(names)]


#: what the handler raises for an organisation of that name
FAILURES: dict[str, Callable[[], BaseException]] = {
    # the event's fault
    "rejected": lambda: Rejected("no such app in the programbank"),
    "permanent": lambda: PermanentError("refused"),
    "value": lambda: ValueError("periodEnd is before periodStart"),
    "data": lambda: asyncpg.DataError("value too long for type character varying(8)"),
    "unique": lambda: asyncpg.UniqueViolationError("duplicate key value violates unique constraint"),
    "foreign-key": lambda: asyncpg.ForeignKeyViolationError("violates foreign key constraint"),
    # bugs
    "key": lambda: KeyError("heading"),
    "lookup": lambda: LookupError("no template"),
    "index": lambda: IndexError("list index out of range"),
    "type": lambda: TypeError("unsupported operand type(s)"),
    "attribute": lambda: AttributeError("'NoneType' object has no attribute 'id'"),
    "assertion": lambda: AssertionError(),
    "runtime": lambda: RuntimeError("the master key does not open the stored key"),
    "key-destroyed": lambda: vault.KeyDestroyed("the person's key was destroyed"),
    "undefined-table": lambda: asyncpg.UndefinedTableError('relation "organisation" does not exist'),
    "undefined-column": lambda: asyncpg.UndefinedColumnError('column "school_types" does not exist'),
    "privilege": lambda: asyncpg.InsufficientPrivilegeError("permission denied for table organisation"),
}
#: not the event's fault and not a bug: the database may let the same batch through later (shared/consumer.py TRANSIENT)
TRANSIENT_FAILURES = {
    "statement-timeout": lambda: asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
    "lock-timeout": lambda: asyncpg.LockNotAvailableError("canceling statement due to lock timeout"),
}
EVENTS_FAULT = ("rejected", "permanent", "value", "data", "unique", "foreign-key")
BUGS = tuple(name for name in FAILURES if name not in EVENTS_FAULT)


async def handler(conn: asyncpg.Connection, env: Envelope[OrganisationUpserted]) -> None:
    """Applies the organisation (a write), then fails the way its name says, if it names a failure."""
    await conn.execute("APPLY", env.data.displayName)
    failure = FAILURES.get(env.data.displayName)
    if failure is not None:
        raise failure()


def _arguments(env: Envelope[OrganisationUpserted]) -> tuple[Any, ...]:
    failure = FAILURES.get(env.data.displayName)
    if failure is not None:
        raise failure()
    return (env.data.displayName,)


statement = Statement("APPLY", _arguments)


def processor(fn: Any = handler) -> tuple[BatchProcessor, FakeConnection]:
    pool = FakePool()
    return BatchProcessor(pool, Handlers({OrganisationUpserted: fn}), service="tests", group="skolit-tests"), pool.conn  # type: ignore[arg-type]


def applied(conn: FakeConnection) -> list[str]:
    return [row[1] for row in conn.rows("apply")]


# --- the event's fault: dead-letter just that event ------------------------------------------------------


@pytest.mark.parametrize("fn", [handler, statement], ids=["function", "statement"])
@pytest.mark.parametrize("kind", EVENTS_FAULT)
async def test_the_events_fault_dead_letters_just_that_event(kind: str, fn: Any) -> None:
    proc, conn = processor(fn)
    records = batch("A", "B", kind, "C")

    counts = await proc.process(records)

    assert counts == {"applied": 3, "duplicate": 0, "dead-lettered": 1}
    assert applied(conn) == ["A", "B", "C"]  # the rejected event's own write was undone with its savepoint
    [letter] = conn.rows("letter")
    assert letter[1] == records[2].topic + ".dlq"
    headers = letter[2]
    assert headers["dlq_reason"].startswith("handler rejected the event: ") and headers["dlq_original_offset"] == "2"
    assert headers["dlq_error_class"] == type(FAILURES[kind]()).__name__
    assert len(conn.rows("inbox")) == 4 and conn.rows("outcome") == [("outcome", (dict(records[2].headers)["ce_id"].decode(),))]
    # applied again: all duplicates, nothing new
    assert await proc.process(records) == {"applied": 0, "duplicate": 4, "dead-lettered": 0}


async def test_a_rejection_says_why() -> None:
    proc, conn = processor()
    await proc.process(batch("A", "rejected"))
    [letter] = conn.rows("letter")
    assert letter[2]["dlq_reason"] == "handler rejected the event: no such app in the programbank"
    assert letter[2]["dlq_error_class"] == "Rejected"


async def test_a_schema_violation_raised_by_a_handler_is_the_events_fault() -> None:
    """pydantic's ValidationError (a ValueError): e.g. the event's content cannot make the event a handler publishes."""

    async def validating(conn: asyncpg.Connection, env: Envelope[OrganisationUpserted]) -> None:
        if env.data.displayName == "invalid":
            OrganisationUpserted.model_validate({"displayName": ""})

    proc, conn = processor(validating)
    assert await proc.process(batch("A", "invalid")) == {"applied": 1, "duplicate": 0, "dead-lettered": 1}
    assert conn.rows("letter")[0][2]["dlq_error_class"] == "ValidationError"


def test_rejected_is_a_permanent_error_and_the_classification_is_written_down() -> None:
    assert issubclass(Rejected, PermanentError)
    assert set(REJECTIONS) == {PermanentError, ValueError, asyncpg.DataError, asyncpg.IntegrityConstraintViolationError}
    for name in BUGS:
        assert not isinstance(FAILURES[name](), REJECTIONS), name


# --- a bug: out of process(), nothing applied, nothing dead-lettered ------------------------------------


@pytest.mark.parametrize("fn", [handler, statement], ids=["function", "statement"])
@pytest.mark.parametrize("kind", BUGS)
async def test_a_bug_propagates_and_nothing_of_the_batch_is_applied_or_dead_lettered(kind: str, fn: Any) -> None:
    proc, conn = processor(fn)
    records = batch("A", "B", kind, "C")

    with pytest.raises(type(FAILURES[kind]())) as raised:
        await proc.process(records)

    assert conn.committed == [], "the transaction rolled back: no inbox row, no write, no dead letter"
    assert conn.open == [] and conn.rollbacks >= 1
    assert any("rolled back" in note for note in getattr(raised.value, "__notes__", [])), "the failure says where it happened"
    # a bug is not a transient failure either: no retries inside process(), the consume loop reads the batch again
    assert conn.transactions <= 3


@pytest.mark.parametrize("kind", sorted(TRANSIENT_FAILURES))
async def test_a_timeout_is_retried_then_handed_back_with_nothing_applied_or_dead_lettered(kind: str) -> None:
    FAILURES[kind] = TRANSIENT_FAILURES[kind]
    try:
        proc, conn = processor()
        proc.retries, proc.base_delay = 2, 0.0
        with pytest.raises(TransientFailure):
            await proc.process(batch("A", kind, "B"))
        assert conn.committed == [] and conn.open == []
        assert conn.transactions >= 3, "retried before handing the batch back"
    finally:
        del FAILURES[kind]


async def test_a_bug_after_a_rejection_in_the_same_batch_still_propagates_and_dead_letters_nothing() -> None:
    """The first attempt (at once) is rolled back for the rejection; the second (event by event) meets the bug."""
    proc, conn = processor()
    records = batch("A", "rejected", "B", "key", "C")

    with pytest.raises(KeyError) as raised:
        await proc.process(records)

    assert conn.committed == []
    ce_id = dict(records[3].headers)["ce_id"].decode()
    assert any(ce_id in note and "@3" in note for note in raised.value.__notes__), raised.value.__notes__


async def test_the_batch_applies_once_the_bug_is_fixed() -> None:
    """What the consume loop does after a bug: the same records again (here, with the handler fixed)."""
    fixed = {"fixed": False}

    async def buggy(conn: asyncpg.Connection, env: Envelope[OrganisationUpserted]) -> None:
        if env.data.displayName == "B" and not fixed["fixed"]:
            raise TypeError("a bug")
        await conn.execute("APPLY", env.data.displayName)

    proc, conn = processor(buggy)
    records = batch("A", "B", "C")
    with pytest.raises(TypeError):
        await proc.process(records)
    fixed["fixed"] = True
    assert await proc.process(records) == {"applied": 3, "duplicate": 0, "dead-lettered": 0}
    assert applied(conn) == ["A", "B", "C"] and conn.rows("letter") == []


# --- a Statement's follow-up (``then``): once the batch committed, never for a batch rolled back -----------------------


async def test_a_statements_follow_up_runs_once_after_its_batch_commits() -> None:
    calls: list[list[str]] = []
    proc, conn = processor()

    def seen() -> None:  # what it sees is what committed
        calls.append(applied(conn))

    proc.handlers = Handlers({OrganisationUpserted: Statement("APPLY", _arguments, then=seen)})
    await proc.process(batch("a", "b", "c"))  # one executemany, one follow-up
    assert calls == [["a", "b", "c"]]
    await proc.process(batch("d", "rejected"))  # rolled back, then one at a time: the follow-up once, after that commit
    assert calls == [["a", "b", "c"], ["a", "b", "c", "d"]]


async def test_a_statements_follow_up_is_not_run_for_a_batch_rolled_back_by_a_bug() -> None:
    calls: list[str] = []
    proc, conn = processor()
    proc.handlers = Handlers({OrganisationUpserted: Statement("APPLY", _arguments, then=lambda: calls.append("ran"))})
    with pytest.raises(KeyError):
        await proc.process(batch("a", "key"))
    assert calls == [] and applied(conn) == []
