"""Bench-only experiments: run a service with a variant applied in its own process, to measure a change against the
code as it is, in the same run (nothing here is used by the services themselves).

    SKOLIT_BENCH_EXPERIMENT=one-by-one .venv/bin/python -m bench.experiment services.notification

bench/stack.py starts a service this way when a benchmark is given ``--experiment NAME``.

Experiments:

one-by-one   the consumer as it was before batches were applied at once: every new event in a savepoint of its
             own, each with its own ``execute`` (shared/consumer.py BatchProcessor._apply_one_by_one, which the
             services still use when a handler rejects an event). The ingest benchmark's "before" figure.
"""

from __future__ import annotations

import os
import runpy
import sys
from typing import Any


def one_by_one() -> None:
    from shared import consumer

    async def _apply(self: Any, batch: list[Any], reprocess: bool) -> dict[str, int]:
        return await self._apply_one_by_one(batch, reprocess)

    consumer.BatchProcessor._apply = _apply


EXPERIMENTS = {"one-by-one": one_by_one}


def main() -> None:
    name = os.environ.get("SKOLIT_BENCH_EXPERIMENT", "")
    for experiment in filter(None, name.split(",")):
        EXPERIMENTS[experiment]()
    module = sys.argv[1]
    sys.argv = [module] + sys.argv[2:]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
