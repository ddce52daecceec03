"""A Skolit service as a subprocess for the benchmarks: started like the test stack starts it,
stopped with SIGTERM (then SIGKILL), its log kept for when it fails."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from shared.embedded import free_port
from shared.settings import DEV_JWT_SECRET

ROOT = Path(__file__).resolve().parents[1]


def stop_process(proc: subprocess.Popen[bytes] | None, grace: float) -> None:
    """SIGTERM, then SIGKILL of its process group after ``grace`` seconds; nothing if it already ended."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class ServiceProcess:
    def __init__(self, name: str, admin_url: str, workdir: Path, bootstrap: str | None = None) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SKOLIT_")}
        self.env.update(  # as tests/support/stack.Stack.env_for, quieter
            DATABASE_URL=admin_url,
            # without a broker, an unused port: the service serves HTTP from PostgreSQL alone
            KAFKA_BOOTSTRAP_SERVERS=bootstrap or f"127.0.0.1:{free_port()}",
            SKOLIT_JWT_SECRET=DEV_JWT_SECRET,
            SKOLIT_OUTBOX_POLL_SECONDS="0.5",
            SKOLIT_LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT),
        )
        self.env[f"SKOLIT_{name.upper()}_PORT"] = str(self.port)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", f"services.{self.name}"], cwd=ROOT, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_until(self, ready: Callable[[httpx.Client], bool], what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if ready(client):
                        return
                time.sleep(0.2)
        raise TimeoutError(f"{self.name} not {what} within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        stop_process(proc, grace=45)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


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
