"""A Skolit service as a subprocess for the benchmarks: started like the test stack starts it (devkit/process.py,
in a session of its own), stopped with SIGTERM (then SIGKILL of its group), its log kept for when it fails."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from devkit.embedded import free_port
from devkit.process import ROOT, stop_process
from devkit.process import ServiceProcess as _Process
from shared.settings import DEV_JWT_SECRET

__all__ = ["ROOT", "ServiceProcess", "code_line", "machine_line", "stop_process", "write_json"]


class ServiceProcess(_Process):
    """``services.<name>`` on a free port, with the environment the test stack gives it (quieter), its log
    ``workdir/<name>.log``; ``stop()`` allows it 45 s to shut down. Subclasses wait with ``wait_until``."""

    def __init__(self, name: str, admin_url: str, workdir: Path, bootstrap: str | None = None) -> None:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKOLIT_")}
        env.update(  # as tests/support/stack.Stack.env_for, quieter
            DATABASE_URL=admin_url,
            # without a broker, an unused port: the service serves HTTP from PostgreSQL alone
            KAFKA_BOOTSTRAP_SERVERS=bootstrap or f"127.0.0.1:{free_port()}",
            SKOLIT_JWT_SECRET=DEV_JWT_SECRET,
            SKOLIT_OUTBOX_POLL_SECONDS="0.5",
            SKOLIT_LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT),
        )
        env[f"SKOLIT_{name.upper()}_PORT"] = str(port)
        super().__init__(name, port, env, workdir / f"{name}.log", cwd=ROOT, new_session=True)


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def code_line(code: dict[str, Any]) -> str:
    """Which code a benchmark measured, for its report."""
    if code["commit"] is None:
        return "- Code: not a git checkout (version unknown)."
    if code["uncommitted"]:
        return f"- Code: commit `{code['commit'][:10]}` with uncommitted changes to " + ", ".join(f"`{c}`" for c in code["uncommitted"]) + "."
    return f"- Code: commit `{code['commit'][:10]}`, services/ and shared/ as committed."


def machine_line(m: dict[str, Any]) -> str:
    return f"- Machine: {m['cpuModel']}, {m['cpuCount']} CPU(s) ({m['cpusUsable']} usable by the process), {m['memoryGiB']} GiB RAM; {m['os']}."
