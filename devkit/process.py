"""A Skolit service (or any command) as a child process, for `make run`, the integration tests, the
benchmarks and `make chaos`: started with its own environment and its output appended to a log file,
waited on until ``/readyz`` (or any probe) answers, stopped with SIGTERM and then SIGKILL, and its log's
last lines at hand when it fails.

One class, so the three places that start services agree on how it is done. The differences they
need are arguments, not copies: ``new_session`` (its own process group, so a SIGKILL reaches anything it
started too; `make run` and the benchmarks), ``stdin`` (`make run` gives the services no terminal).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["ROOT", "ServiceProcess", "stop_process"]


def stop_process(proc: subprocess.Popen[bytes] | None, grace: float) -> None:
    """SIGTERM, then SIGKILL of its process group after ``grace`` seconds; nothing if it already ended.

    For a process started in its own session (``start_new_session=True``): the group is its own."""
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
    """One process: ``python -m services.<name>`` unless ``argv`` says otherwise, listening on ``port``.

    ``start()`` may be called again after the process ended (``starts`` counts the starts); the log is
    appended to, never truncated."""

    def __init__(self, name: str, port: int, env: dict[str, str], log_path: Path, *,
                 argv: Sequence[str] | None = None, cwd: Path = ROOT, new_session: bool = False,
                 stdin: int | None = None) -> None:
        self.name = name
        self.port = port
        self.env = env
        self.log_path = log_path
        self.argv = list(argv) if argv is not None else None
        self.cwd = cwd
        self.new_session = new_session
        self.stdin = stdin
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def __repr__(self) -> str:
        pid = self.proc.pid if self.proc is not None else None
        return f"ServiceProcess(name={self.name!r}, port={self.port}, pid={pid}, starts={self.starts})"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return list(self.argv) if self.argv is not None else [sys.executable, "-m", f"services.{self.name}"]

    # -- start ------------------------------------------------------------------------------------

    def start(self, argv: Sequence[str] | None = None, *, banner: str | None = None) -> None:
        """Start it (``argv`` instead of :meth:`command` for this start only); ``banner`` is written to
        the log first, as a line of its own. The child keeps the log open; this process does not."""
        self.starts += 1
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            if banner is not None:
                log.write(f"\n{banner}\n".encode())
                log.flush()
            self.proc = subprocess.Popen(list(argv) if argv is not None else self.command(), cwd=self.cwd, env=self.env,
                                         stdin=self.stdin, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=self.new_session)

    def exited(self) -> int | None:
        """Its exit status once it has ended; None while it runs (or before it was started)."""
        return None if self.proc is None else self.proc.poll()

    # -- wait -------------------------------------------------------------------------------------

    def wait_until(self, ready: Callable[[httpx.Client], bool], what: str, timeout: float = 90, *,
                   request_timeout: float = 2.0, interval: float = 0.2) -> None:
        """Poll ``ready`` (with a client on :attr:`url`) until it says yes. RuntimeError if the process
        exits meanwhile, TimeoutError after ``timeout`` seconds; both carry the log's tail."""
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=request_timeout) as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if ready(client):
                        return
                time.sleep(interval)
        raise TimeoutError(f"{self.name} not {what} within {timeout:.0f} s:\n{self.log_tail()}")

    def wait_ready(self, timeout: float = 60) -> None:
        """Until ``GET /readyz`` answers 200: its database and broker are reachable."""
        self.wait_until(lambda client: client.get("/readyz").status_code == 200, "ready", timeout, request_timeout=1.0)

    # -- stop -------------------------------------------------------------------------------------

    def send(self, sig: int) -> None:
        """A signal to the process, if it still runs."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM and wait for it to end: its exit status (subprocess.TimeoutExpired after ``timeout``)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL (the process only, not its group) and wait for it."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def kill_group(self) -> None:
        """SIGKILL to its whole process group (only when started with ``new_session``: the group is its own)."""
        if self.proc is not None and self.new_session:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def stop(self, grace: float = 45) -> None:
        """SIGTERM, SIGKILL to its group after ``grace`` seconds (see :func:`stop_process`); forgets the process."""
        proc, self.proc = self.proc, None
        if not self.new_session:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
            return
        stop_process(proc, grace)

    # -- log --------------------------------------------------------------------------------------

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of its log ("" when there is none)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
