"""The broker's TCP proxy in a process of its own, controlled over stdin.

The test stack runs ``TcpProxy`` in a thread of the test process; here it relays every byte
between eight-odd service processes, the producer and Tansu, so it gets its own interpreter (and
uvloop when available) instead of competing with the producer for the GIL. Commands, one per
line: ``cut``, ``restore``, ``stop``; each is answered with ``ok <command>`` once done.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    listen_port, target_port = int(argv[0]), int(argv[1])
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    from tests.support.tcpproxy import TcpProxy

    proxy = TcpProxy(listen_port, target_port)
    proxy.start()
    print("ok start", flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "cut":
                proxy.cut()
            elif command == "restore":
                proxy.restore()
            elif command == "stop":
                break
            else:
                print(f"error unknown command {command!r}", flush=True)
                continue
            print(f"ok {command}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        proxy.stop()
    return 0


class ProxyProcess:
    """The parent's handle: ``start()``, ``cut()``, ``restore()``, ``stop()`` (each waits for the child's answer)."""

    def __init__(self, listen_port: int, target_port: int, log_path: Path) -> None:
        self.listen_port = listen_port
        self.target_port = target_port
        self.log_path = log_path
        self.proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "chaos.proxy", str(self.listen_port), str(self.target_port)],
                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1,
            )
        self._expect("start")

    def cut(self) -> None:
        self._command("cut")

    def restore(self) -> None:
        self._command("restore")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert proc.stdin is not None
                proc.stdin.write("stop\n")
                proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def _command(self, command: str) -> None:
        with self._lock:
            assert self.proc is not None and self.proc.stdin is not None
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
            self._expect(command)

    def _expect(self, command: str) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != f"ok {command}":
            raise RuntimeError(f"proxy did not confirm {command!r}: {line!r} (exit {self.proc.poll()})")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
