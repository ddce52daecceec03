"""The catalog's use cases: one plain async function per thing a person, an event or a job can make happen.

Each takes a ``UnitOfWork`` first (shared/uow.py: a connection inside a transaction, and ``publish``, the only
way an event enters the outbox), then the caller and plain arguments, and returns what it made (a store record
or a small dataclass), never an HTTP answer. HTTP routes (routes/), event handlers (handlers.py) and jobs
(jobs.py) are thin adapters around them. A refusal is raised as a ``shared.problems.Problem``: the project's
one way of saying no, which the HTTP layer answers as it is.

    apps.py       publish, describe, data protection, status (approval, retirement), the DPA expiry job
    imports.py    importing a programbank from CSV rows, all or nothing
    statuses.py   defining a district status
    licences.py   adding and ending licences, the licence notice job
    requests.py   submitting requests and moving them on, the review reminder job
    usage.py      the city's app launch counts
"""

from __future__ import annotations

from services.catalog import domain
from shared.problems import Problem, rejected


def refused(exc: domain.Rejected) -> Problem:
    """A domain rule's refusal as the problem the caller is answered with."""
    return rejected(exc.status, str(exc), exc.field)
