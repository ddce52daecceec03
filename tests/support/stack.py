"""The real system for integration tests: embedded PostgreSQL, the broker behind a cuttable proxy, and the four
services as separate processes (so they can be killed and restarted).

The broker is the embedded Tansu by default; SKOLIT_TEST_BROKER=kafka (or ``Stack(broker_kind="kafka")``) runs a
three-node Apache Kafka cluster instead (devkit/kafka: three brokers that are also the three controllers, replication
factor 3, min.insync.replicas 2), each broker behind its own proxy: the clients' listener advertises the proxy's port,
so clients reach every broker only through a proxy while the brokers replicate among themselves directly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devkit.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from devkit.kafka import KafkaCluster
from devkit.process import ROOT, ServiceProcess
from devkit.sinks import Sinks
from services.notification.settings import DEV_CALLBACK_TOKEN
from shared.auth import mint
from shared.settings import DEV_JWT_SECRET, SERVICES, service_database_url
from devkit.oidc import REDIRECT_URI
from tests.support.oidc import OidcProvider
from tests.support.tcpproxy import TcpProxy

# ServiceProcess(name, port, env, log_path): devkit/process.py, the one class that starts and watches a
# service process (also for `make run`, the benchmarks and `make chaos`, which imports it and ROOT from here).
__all__ = ["ROOT", "ProxyGroup", "ServiceProcess", "Stack", "auth", "restart", "token"]

#: the pods' terminationGracePeriodSeconds (deploy/k8s): the service's own graceful budget is 40 s
GRACE_S = 50

#: the brokers a test session can run on (SKOLIT_TEST_BROKER)
BROKERS = ("tansu", "kafka")


class ProxyGroup:
    """One proxy per broker of a cluster, cut and restored together (the whole cluster unreachable for clients): the
    tests' TcpProxy threads, or chaos/'s proxy processes (anything with start, cut, restore and stop)."""

    def __init__(self, proxies: list[Any]) -> None:
        self.proxies = proxies

    def start(self) -> None:
        for p in self.proxies:
            p.start()

    def cut(self) -> None:
        for p in self.proxies:
            p.cut()

    def restore(self) -> None:
        for p in self.proxies:
            p.restore()

    def stop(self) -> None:
        for p in self.proxies:
            p.stop()


def chosen_broker() -> str:
    kind = os.environ.get("SKOLIT_TEST_BROKER") or "tansu"
    if kind not in BROKERS:
        raise ValueError(f"SKOLIT_TEST_BROKER={kind!r}: one of {', '.join(BROKERS)}")
    return kind


@dataclass
class Stack:
    workdir: Path
    admin_url: str = ""
    bootstrap: str = ""
    postgres: EmbeddedPostgres | None = None
    broker: EmbeddedBroker | None = None
    proxy: TcpProxy | ProxyGroup | None = None
    #: "tansu" (the embedded broker) or "kafka" (a three-node Apache Kafka cluster, ``kafka``); SKOLIT_TEST_BROKER by default
    broker_kind: str = field(default_factory=chosen_broker)
    kafka: KafkaCluster | None = None
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    #: the outside world notification sends to: a real SMTP server and a real HTTP gateway sink
    sinks: Sinks | None = None
    #: the city's OpenID provider (devkit/oidc): the services take its tokens besides the development HS256 ones
    oidc: OidcProvider | None = None
    #: the web app (web/), a process of its own calling the services' APIs; its sign-in goes through ``oidc``
    web: ServiceProcess | None = None
    web_port: int = 0
    #: where the web app looks for the city's connector (SKOLIT_WEB_CONNECTOR_URL): the stack does not start one; a test
    #: that needs it starts it on this port (tests/web/test_imports.py), so the web app need not be restarted
    connector_port: int = 0

    def start(self) -> None:
        self.sinks = Sinks(callbacks=True, callback_headers={"Authorization": f"Bearer {DEV_CALLBACK_TOKEN}"}).start()
        web_port = self.web_port = free_port()
        self.connector_port = free_port()
        self.oidc = OidcProvider(self.workdir, redirect_uris=(REDIRECT_URI, f"http://127.0.0.1:{web_port}/callback")).start()
        self.postgres = EmbeddedPostgres(self.workdir / "pgdata", free_port())
        self.admin_url = self.postgres.start()
        if self.broker_kind == "kafka":
            self._start_kafka()
        else:
            broker_port, proxy_port = free_port(), free_port()
            # Clients reach the broker only through the proxy, so a test can make it unreachable.
            self.broker = EmbeddedBroker(broker_port, advertised_port=proxy_port, log_path=self.workdir / "tansu.log")
            self.proxy = TcpProxy(proxy_port, broker_port)
            self.proxy.start()
            self.bootstrap = self.broker.start().replace(str(broker_port), str(proxy_port))

        from shared.db import ensure_database, provision
        from shared.topics import ensure_topics

        async def prepare() -> None:
            await ensure_database(self.admin_url)
            await provision(self.admin_url)
            await ensure_topics(self.bootstrap, self.replication_factor)

        asyncio.run(prepare())
        for name in SERVICES:
            env = self.env_for(name)
            self.services[name] = ServiceProcess(name, int(env[f"SKOLIT_{name.upper()}_PORT"]), env, self.workdir / f"{name}.log")
            self.services[name].start()
        self.web = ServiceProcess("web", web_port, self.web_env(web_port), self.workdir / "web.log", argv=[sys.executable, "-m", "web"])
        self.web.start()
        for svc in [*self.services.values(), self.web]:
            svc.wait_ready()

    def _start_kafka(self) -> None:
        ports, proxy_ports = [free_port() for _ in range(3)], [free_port() for _ in range(3)]
        group = ProxyGroup([TcpProxy(p, b) for p, b in zip(proxy_ports, ports, strict=True)])
        self.proxy = group
        group.start()
        self.kafka = KafkaCluster(self.workdir / "kafka", nodes=3, ports=ports, advertised_ports=proxy_ports)
        self.bootstrap = self.kafka.start()

    @property
    def replication_factor(self) -> int:
        """What the services create topics with: the cluster's (3) on Apache Kafka, 1 on Tansu."""
        return self.kafka.replication_factor if self.kafka is not None else 1

    def web_env(self, port: int) -> dict[str, str]:
        """The web app's settings: the services, the provider, development mode (its persona sign-in page lists the demo personas)."""
        from devkit.demo.personas import PASSWORD, personas

        listed = self.workdir / "web-personas.json"
        listed.write_text(json.dumps([{"login": p.login, "label": p.label, "role": p.role, "password": PASSWORD} for p in personas()]), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKOLIT_")}
        env.update(
            SKOLIT_WEB_PORT=str(port), SKOLIT_WEB_BASE_URL=f"http://127.0.0.1:{port}", SKOLIT_WEB_DEV="true",
            SKOLIT_WEB_DEV_PERSONAS=str(listed), SKOLIT_WEB_OIDC_ISSUER=self.oidc.issuer if self.oidc else "",
            PYTHONPATH=str(ROOT),
            **{f"SKOLIT_WEB_{name.upper()}_URL": svc.url for name, svc in self.services.items()},
        )
        if self.connector_port:
            env["SKOLIT_WEB_CONNECTOR_URL"] = f"http://127.0.0.1:{self.connector_port}"
        return env

    def env_for(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKOLIT_")}
        env.update(
            DATABASE_URL=self.admin_url,
            KAFKA_BOOTSTRAP_SERVERS=self.bootstrap,
            SKOLIT_JWT_SECRET=DEV_JWT_SECRET,
            SKOLIT_OUTBOX_POLL_SECONDS="0.5",
            SKOLIT_ALLOW_CLOCK_OVERRIDE="true",
            SKOLIT_LOG_LEVEL="INFO",
            SKOLIT_CORS_ORIGINS=WEB_APP_ORIGIN,
            PYTHONPATH=str(ROOT),
        )
        if self.kafka is not None:
            env["SKOLIT_TOPIC_REPLICATION_FACTOR"] = str(self.replication_factor)
        env[f"SKOLIT_{name.upper()}_PORT"] = str(self.services[name].port if name in self.services else free_port())
        if self.oidc is not None:
            env.update(self.oidc.env())
            # roles derived from the city's data are reused this long: short, so a test sees an ended duty soon
            env["SKOLIT_OIDC_AUTHORITY_CACHE_SECONDS"] = "2"
        if name == "notification" and self.sinks is not None:
            env.update(self.sinks.env())
        if name == "notification":
            env["SKOLIT_NOTIFICATION_WEB_URL"] = f"http://127.0.0.1:{self.web_port}"
        return env

    def service_url(self, name: str) -> str:
        return service_database_url(name, self.admin_url)

    def stop(self) -> None:
        for svc in [*self.services.values(), *([self.web] if self.web else [])]:
            if svc.proc and svc.proc.poll() is None:
                try:
                    svc.terminate(timeout=30)
                except subprocess.TimeoutExpired:
                    svc.kill()
        if self.broker:
            self.broker.stop()
        if self.kafka:
            self.kafka.stop()
        if self.proxy:
            self.proxy.stop()
        if self.postgres:
            self.postgres.stop()
        if self.sinks:
            self.sinks.stop()
        if self.oidc:
            self.oidc.stop()


@contextlib.contextmanager
def started_in_own_folder(make: Callable[[Path], Any], prefix: str, what: str) -> Iterator[Any]:
    """``make(folder).start()`` in a fresh temporary folder, yielded, then stopped; the folder removed unless
    SKOLIT_KEEP_TEST_LOGS is set. Not under pytest's own temporary folder: another pytest run on the machine resets
    /tmp/pytest-of-<user> to 0700, and PostgreSQL, running as its own system user, then loses its data directory."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    started = make(workdir)
    try:
        started.start()
        yield started
    finally:
        started.stop()
        if os.environ.get("SKOLIT_KEEP_TEST_LOGS"):
            print(f"{what} logs in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


#: the browser origin the tests' services allow (as `make run` allows the web app's)
WEB_APP_ORIGIN = "http://localhost:3000"


def token(*roles: str, subject: str = "tester", school_units: tuple[str, ...] = (), districts: tuple[str, ...] = ()) -> str:
    return mint(DEV_JWT_SECRET, subject=subject, roles=list(roles), school_units=school_units, districts=districts)


def auth(*roles: str, **kwargs: object) -> dict[str, str]:
    return {"Authorization": "Bearer " + token(*roles, **kwargs)}  # type: ignore[arg-type]


def restart(svc: ServiceProcess, env: dict[str, str], banner: str) -> None:
    """The session's process of a service again with ``env`` (a module's own settings, and back afterwards): SIGTERM,
    a new start, ready. A process that outlives the pods' grace is killed, started again, and then reported."""
    stuck = None
    try:
        svc.terminate(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        # Fail, but only after the service runs again for the modules after this one (a CI run once lost a
        # hundred later tests to a process that outlived a 30-s wait here).
        stuck = svc.log_tail(80)
        svc.kill()
    svc.env = env
    svc.start(banner=banner)
    svc.wait_ready()
    if stuck is not None:
        raise AssertionError(f"{svc.name} did not stop within {GRACE_S} s of SIGTERM (it was killed):\n{stuck}")
