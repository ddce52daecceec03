"""Retention: how long each class of data is kept, and the job that removes what is due.

A service declares its data classes as ``Rule`` s in its privacy part (``services/<name>/privacy.py``;
shared/privacy/part.py makes its ``job``): the table, the condition that makes a row due given a cut-off
time, and how many days to keep it by default. The period
of a class is configured with ``SKOLIT_RETENTION_<CLASS>_DAYS`` (the class name in capitals, ``-`` as
``_``), e.g. ``SKOLIT_RETENTION_DELIVERIES_DAYS=400``; ``never`` keeps the class for good.

The SQL of a rule is built once, from the rule's own constant fragments (checked when the rule is made),
never from input: the only values are the cut-off and the batch size, passed as parameters. Rows go in
batches of ``batch_size`` (``DELETE ... WHERE ctid = ANY(ARRAY(SELECT ctid ... LIMIT n))``), rule after
rule in the order given, so a rule that removes children runs before the rule that removes their parent.

The cut-off of a class is local midnight (Europe/Stockholm) of the day ``days`` before the job's date: a
row is due when its timestamp is before it. The job's date is the city's date, or ``asOf`` where the clock
may be overridden (``POST /jobs/retention/run``), so tests move time rather than wait.

Tables kept append-only by a trigger (notification's ``personal_data_access``) accept a DELETE only in a
transaction that set ``skolit.retention = 'on'``; the runner sets it (``SET LOCAL``: for its own
transaction only).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import asyncpg

from shared import metrics
from shared.clock import CITY_TZ
from shared.jobs import Job

ENV_PREFIX = "SKOLIT_RETENTION_"
DAILY = 24 * 3600.0
NEVER = "never"
DEFAULT_BATCH = 1000

_CLASS = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_TABLE = re.compile(r"^[a-z_][a-z0-9_]*$")
# A condition is SQL written by us; this only catches mistakes that would make it unsafe or wrong:
# statement separators, comments, quotes that could hide them, and parameters other than the cut-off.
_FORBIDDEN = re.compile(r";|--|/\*|\$(?!1\b)")


class RetentionConfigError(ValueError):
    """A SKOLIT_RETENTION_* variable that is not a number of days (or ``never``)."""


@dataclass(frozen=True)
class Rule:
    """One table's part of a data class: rows of ``table`` for which ``due`` holds are removed.

    ``due`` is a SQL condition on ``table`` (refer to its columns by the table's name where a subquery
    needs it) with ``$1`` the cut-off time (timestamptz). Several rules may share a data class (e.g. a
    parent and its children); they share its period and its count.
    """

    data_class: str
    table: str
    due: str
    default_days: int
    description: str
    statement: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _CLASS.match(self.data_class):
            raise ValueError(f"data class {self.data_class!r}: lower-case words joined by '-'")
        if not _TABLE.match(self.table):
            raise ValueError(f"table {self.table!r} is not a plain identifier")
        if _FORBIDDEN.search(self.due) or "$1" not in self.due:
            raise ValueError(f"{self.data_class}/{self.table}: the condition must use $1 (the cut-off) and nothing but SQL of our own")
        if self.default_days < 1:
            raise ValueError(f"{self.data_class}: a default of at least one day")
        statement = ("DELETE FROM " + self.table + " WHERE ctid = ANY(ARRAY(SELECT ctid FROM " + self.table
                     + " WHERE " + self.due + " LIMIT $2))")
        object.__setattr__(self, "statement", statement)

    @property
    def variable(self) -> str:
        return variable(self.data_class)

    def days(self, environ: Mapping[str, str] | None = None) -> int | None:
        """The configured period in days, or None for ``never``."""
        return configured_days(self.data_class, self.default_days, os.environ if environ is None else environ)

    def cutoff(self, today: date, environ: Mapping[str, str] | None = None) -> datetime | None:
        days = self.days(environ)
        return None if days is None else cutoff(today, days)


def variable(data_class: str) -> str:
    return ENV_PREFIX + data_class.upper().replace("-", "_") + "_DAYS"


def configured_days(data_class: str, default: int, environ: Mapping[str, str]) -> int | None:
    raw = (environ.get(variable(data_class)) or "").strip()
    if not raw:
        return default
    if raw.lower() == NEVER:
        return None
    try:
        days = int(raw)
    except ValueError:
        raise RetentionConfigError(f"{variable(data_class)}={raw!r}: a whole number of days, or {NEVER!r}") from None
    if days < 1:
        raise RetentionConfigError(f"{variable(data_class)}={raw!r}: at least 1 day (use {NEVER!r} to keep the data for good)")
    return days


def cutoff(today: date, days: int) -> datetime:
    """Local midnight of the day ``days`` before ``today``: rows older than this are due."""
    return datetime.combine(today - timedelta(days=days), time(0), CITY_TZ)


def classes(rules: Iterable[Rule]) -> dict[str, Rule]:
    """The first rule of each data class (its period and variable), in order."""
    out: dict[str, Rule] = {}
    for rule in rules:
        first = out.setdefault(rule.data_class, rule)
        if first.default_days != rule.default_days:
            raise ValueError(f"{rule.data_class}: rules of one class need one default ({first.default_days} and {rule.default_days})")
    return out


def validate(rules: Iterable[Rule], environ: Mapping[str, str] | None = None) -> None:
    """Raises RetentionConfigError for a variable that is set wrongly (called at start, so a typo stops the service)."""
    for rule in classes(rules).values():
        rule.days(environ)


async def run(conn: asyncpg.Connection, service: str, rules: Iterable[Rule], today: date, *, batch_size: int = DEFAULT_BATCH,
              environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """Removes every due row, rule by rule in batches; returns the rows removed per data class.
    Runs inside the caller's transaction (shared/jobs.py gives each run one)."""
    rules = tuple(rules)
    counts = {name: 0 for name in classes(rules)}
    await conn.execute("SELECT set_config('skolit.retention', 'on', true)")
    for rule in rules:
        at = rule.cutoff(today, environ)
        if at is None:
            continue
        while True:
            status = await conn.execute(rule.statement, at, batch_size)
            removed = int(status.split()[-1])
            counts[rule.data_class] += removed
            if removed == 0:  # not "fewer than a batch": removing children can make their parents due in the same run
                break
    await conn.execute("SELECT set_config('skolit.retention', 'off', true)")
    for name, n in counts.items():
        if n:
            metrics.RETENTION_DELETED.labels(service, name).inc(n)
    return counts


def messaging() -> tuple[Rule, ...]:
    """The reliable-messaging tables every service has (shared/migrations/0001_messaging.sql, decision 0002)."""
    return (
        Rule("inbox", "inbox", "received_at < $1", 30,
             "Ids of events already applied (technical). An event older than this that arrives again is applied again: "
             "handlers are idempotent by design, but keep this at least as long as the topics' retention."),
        Rule("outbox", "outbox", "published_at IS NOT NULL AND published_at < $1", 90,
             "Events published (dead letters too), kept as the record: `republish --since` reaches back this far. "
             "Never an event not yet published."),
        Rule("idempotency", "idempotency_key", "created_at < $1", 1,
             "Stored answers of creates retried with an Idempotency-Key (shared/http/idempotency.py): a retry after this "
             "is a new request."),
    )


def describe(rules: Iterable[Rule], environ: Mapping[str, str] | None = None) -> list[dict[str, object]]:
    """Each class with its variable, default and the period in force: for the job's description and the docs."""
    return [{"dataClass": r.data_class, "variable": r.variable, "defaultDays": r.default_days, "days": r.days(environ),
             "description": r.description} for r in classes(rules).values()]


def job(service: str, rules: Iterable[Rule], every_seconds: float = DAILY) -> Job:
    """The service's ``retention`` job: daily, and on demand with ``POST /jobs/retention/run`` (``asOf`` where allowed).
    A wrongly set SKOLIT_RETENTION_* variable stops the service at start rather than the job at night."""
    rules = tuple(rules)
    validate(rules)

    async def retention(conn: asyncpg.Connection, today: date) -> dict[str, int]:
        return await run(conn, service, rules, today)

    periods = ", ".join(f"{c['dataClass']} {c['days']} days" if c["days"] else f"{c['dataClass']} kept" for c in describe(rules))
    return Job("retention", retention, every_seconds, "Removes what its retention period no longer covers (SKOLIT_RETENTION_<CLASS>_DAYS): "
               + periods)
