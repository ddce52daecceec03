"""Apache Kafka from the project's own files: the broker fetched from Maven Central and started on loopback.

    python -m devkit.kafka fetch             # the jars of devkit/kafka/pom.xml into .venv/kafka/<version>/lib
    python -m devkit.kafka run [--nodes 3]   # a cluster in a temporary folder until Ctrl-C (prints its bootstrap)

``fetch()`` runs Maven (``mvn dependency:copy-dependencies``) on the pinned pom once; the jars are reused until the pom
changes. ``KafkaCluster`` formats KRaft storage (one cluster id) and starts ``nodes`` JVMs, each broker and controller
at once (three controllers for three nodes, a dynamic quorum formed with ``--initial-controllers``), with the settings the
production manifests use (``broker_settings``): replication factor 3 and ``min.insync.replicas`` 2 on three nodes (1/1 on
one), Skolit's message size limit, no automatic topic creation. It waits until every broker is registered and answers
metadata. Like devkit/embedded.py's servers it logs to files and stops what it started when the interpreter exits.
``kill(node)`` (SIGKILL), ``stop_node(node)`` (controlled shutdown) and ``start_node(node)`` are for fault tests.

Each node has three listeners on 127.0.0.1: CLIENT (what clients use; it may advertise another port, a proxy's), INTERNAL
(replication between brokers) and CONTROLLER (the KRaft quorum). Java >= 17 and Maven are needed; nothing is installed
system-wide. docs/decisions/0018-apache-kafka-engine.md.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devkit.embedded import _run_coroutine_in_thread, _StopsAtExit, _tail, free_port, port_open
from devkit.kafka.tls import broker_keys, make_ca, one_line
from devkit.process import ROOT
from shared.settings import KafkaSecurity

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
LOG4J2 = HERE / "log4j2.xml"
#: a node's JVM heap: three nodes and the rest of Skolit fit on a small machine
DEFAULT_HEAP = "384m"
MIN_JAVA = 17
#: KafkaCluster(security=...): no security (what `make run` and the test lanes use), or production's SASL_SSL with ACLs
SECURITY_MODES = ("plaintext", "sasl_ssl")
#: the super user of a secured cluster: brokers and controllers among themselves, and the launcher's admin client
ADMIN = "admin"
#: a secured cluster's client listener: production's login (Strimzi's scram-sha-512 listener, docker-compose's CLIENT)
CLIENT_SASL_MECHANISM = "SCRAM-SHA-512"
#: KRaft's ACL authorizer (what Strimzi's `authorization: simple` configures)
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


class KafkaUnavailable(RuntimeError):
    """Java or Maven is missing, or Maven could not fetch the jars: the message says which and what to do."""


# -- the jars -----------------------------------------------------------------------------------------------------------


def kafka_version() -> str:
    """The Apache Kafka version devkit/kafka/pom.xml pins."""
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text(encoding="utf-8"))
    if not found:
        raise KafkaUnavailable(f"{POM} does not pin <kafka.version>")
    return found.group(1).strip()


def cache_root() -> Path:
    """Where fetched jars live: SKOLIT_KAFKA_CACHE, else .venv/kafka (ignored by git, removed by make clean)."""
    return Path(os.environ.get("SKOLIT_KAFKA_CACHE") or ROOT / ".venv" / "kafka").resolve()


def lib_dir() -> Path:
    return cache_root() / kafka_version() / "lib"


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()[:16]


def _stamp() -> Path:
    return cache_root() / kafka_version() / f".fetched-{_pom_digest()}"


def is_fetched() -> bool:
    return _stamp().exists() and lib_dir().is_dir()


def java() -> str:
    """The java binary (JAVA_HOME's, else the one on PATH), checked to be Java >= 17."""
    home = os.environ.get("JAVA_HOME")
    candidate = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").exists() else shutil.which("java")
    if not candidate:
        raise KafkaUnavailable(f"Apache Kafka needs Java >= {MIN_JAVA}, and no `java` was found (JAVA_HOME or PATH). "
                               "Install a Java runtime, e.g. `apt-get install openjdk-17-jre-headless`.")
    try:
        out = subprocess.run([candidate, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KafkaUnavailable(f"{candidate} -version failed: {exc}") from exc
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if found:
        major = int(found.group(1))
        if major == 1 and found.group(2):  # "1.8.0_x"
            major = int(found.group(2))
        if major < MIN_JAVA:
            raise KafkaUnavailable(f"Apache Kafka {kafka_version()} needs Java >= {MIN_JAVA}; {candidate} is Java {major}.")
    return candidate


def maven() -> str:
    found = shutil.which("mvn")
    if not found:
        raise KafkaUnavailable(f"fetching Apache Kafka {kafka_version()} into {lib_dir()} needs Maven (`mvn`), which is not on PATH. "
                               "Install it, e.g. `apt-get install maven`.")
    return found


def fetch(*, force: bool = False) -> Path:
    """The folder of Apache Kafka's jars, fetched by Maven from Maven Central unless fetched already for this pom."""
    if not force and is_fetched():
        return lib_dir()
    import fcntl

    mvn = maven()
    java()  # Maven runs on it, and so will the broker: say so now if it is missing
    version_dir = lib_dir().parent
    version_dir.mkdir(parents=True, exist_ok=True)
    with open(version_dir / ".lock", "w") as lock:  # noqa: SIM115 - held for the fetch
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process (a parallel test run) may be fetching the same
        if not force and is_fetched():
            return lib_dir()
        pom = version_dir / "pom.xml"
        shutil.copyfile(POM, pom)
        partial = version_dir / f"lib.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        cmd = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", f"-DoutputDirectory={partial}", "-DincludeScope=runtime"]
        log.info("fetching Apache Kafka %s with Maven into %s", kafka_version(), lib_dir())
        try:
            done = subprocess.run(cmd, cwd=version_dir, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired as exc:
            raise KafkaUnavailable(f"Maven did not fetch Apache Kafka within 15 minutes: {' '.join(cmd)}") from exc
        if done.returncode != 0 or not any(partial.glob("kafka_2.13-*.jar")):
            shutil.rmtree(partial, ignore_errors=True)
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-25:])
            raise KafkaUnavailable(f"Maven could not fetch Apache Kafka {kafka_version()} (exit {done.returncode}; is Maven Central "
                                   f"reachable?): {' '.join(cmd)}\n{tail}")
        shutil.rmtree(lib_dir(), ignore_errors=True)
        partial.rename(lib_dir())
        for old in version_dir.glob(".fetched-*"):
            old.unlink()
        _stamp().touch()
        shutil.rmtree(version_dir / "target", ignore_errors=True)
    return lib_dir()


# -- the settings -------------------------------------------------------------------------------------------------------


def broker_settings(nodes: int) -> dict[str, str]:
    """The broker settings Skolit's production manifests set (deploy/k8s/base/kafka/cluster.yaml for three nodes,
    docker-compose.yml for one): what every node of a KafkaCluster runs with. tests/unit/test_kafka_parity.py reads both
    files and fails when one of them says otherwise."""
    from shared.topics import MAX_MESSAGE_BYTES

    replicas = 3 if nodes >= 3 else 1
    min_isr = 2 if nodes >= 3 else 1
    return {
        # topics come from shared/topics.py's ensure_topics (or Strimzi's KafkaTopics), never from a client's first write
        "auto.create.topics.enable": "false",
        "default.replication.factor": str(replicas),
        "min.insync.replicas": str(min_isr),
        "offsets.topic.replication.factor": str(replicas),
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(min_isr),
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        # the size policy (shared/topics.py MAX_MESSAGE_BYTES)
        "message.max.bytes": str(MAX_MESSAGE_BYTES),
        "replica.fetch.max.bytes": str(MAX_MESSAGE_BYTES),
        # docker-compose.yml: a consumer group's first members get their partitions at once
        "group.initial.rebalance.delay.ms": "0",
    }


#: Small-machine sizing only (threads), none of it a behaviour the manifests set.
LOCAL_SIZING = {
    "num.network.threads": "2",
    "num.io.threads": "2",
    "num.recovery.threads.per.data.dir": "1",
    "background.threads": "2",
    "log.cleaner.threads": "1",
}


def new_uuid() -> str:
    """A Kafka Uuid (cluster id, directory id): 16 random bytes in URL-safe base64, as ``kafka-storage random-uuid`` makes."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka's own generator avoids these (they read as command-line options)
            return text


@dataclass
class NodeSpec:
    node_id: int
    port: int  # the CLIENT listener
    advertised_port: int  # what the CLIENT listener tells clients (a proxy's port, or the same)
    internal_port: int
    controller_port: int
    directory_id: str


@dataclass
class _Node:
    spec: NodeSpec
    dir: Path
    proc: subprocess.Popen[bytes] | None = None
    log_file: Any = None

    @property
    def log_path(self) -> Path:
        return self.dir / "kafka.log"

    @property
    def properties(self) -> Path:
        return self.dir / "server.properties"


@dataclass
class KafkaCluster(_StopsAtExit):
    """``nodes`` Apache Kafka nodes (1 or 3), each broker and controller, with their data in ``workdir``.

    ``ports``: each node's client port (free ports if not given); ``advertised_ports``: what the client listener
    advertises instead (a TCP proxy's port in front of it). A workdir formatted before is started again with its
    ports and data (``cluster.json``).

    ``security="sasl_ssl"`` secures it as production would (docs/decisions/0019-kafka-security.md): the CLIENT listener
    takes only SASL_SSL with SCRAM-SHA-512 (a throwaway CA and broker certificates in ``workdir/tls``, devkit/kafka/tls.py),
    the StandardAuthorizer refuses whatever no ACL allows, the brokers and controllers talk SASL PLAIN among themselves as
    the super user ``admin``, and the SCRAM users (``admin`` and ``users``, passwords generated and kept in
    ``workdir/users.json``) are created when the storage is formatted. ``acls`` (devkit/kafka/acls.py's ``Acl``) are
    applied with the admin client once the cluster is ready. ``security_for(user)`` is a client's KafkaSecurity and
    ``client_env(user)`` the environment that makes a Skolit process log in as that user."""

    workdir: Path
    nodes: int = 1
    ports: Sequence[int] | None = None
    advertised_ports: Sequence[int] | None = None
    heap: str = DEFAULT_HEAP
    overrides: dict[str, str] = field(default_factory=dict)
    cluster_id: str = ""
    security: str = "plaintext"
    users: Sequence[str] = ()
    acls: Sequence[Any] = ()
    _nodes: dict[int, _Node] = field(default_factory=dict, init=False, repr=False)
    _atexit_registered: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir).resolve()
        if self.nodes not in (1, 3):
            raise ValueError("a KafkaCluster has 1 node or 3")
        if self.security not in SECURITY_MODES:
            raise ValueError(f"security is one of {', '.join(SECURITY_MODES)}, not {self.security!r}")
        if self.security == "plaintext" and (self.users or self.acls):
            raise ValueError("users and ACLs need security='sasl_ssl'")

    # -- public API ---------------------------------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{n.spec.advertised_port}" for n in self._nodes.values())

    @property
    def direct_bootstrap(self) -> str:
        """The nodes' own client ports (not through any proxy)."""
        return ",".join(f"127.0.0.1:{n.spec.port}" for n in self._nodes.values())

    @property
    def node_ids(self) -> list[int]:
        return list(self._nodes)

    @property
    def replication_factor(self) -> int:
        return int(self.settings()["default.replication.factor"])

    def settings(self) -> dict[str, str]:
        return {**broker_settings(self.nodes), **self.overrides}

    def spec(self, node_id: int) -> NodeSpec:
        return self._nodes[node_id].spec

    @property
    def secured(self) -> bool:
        return self.security == "sasl_ssl"

    @property
    def ca_file(self) -> Path:
        """The CA that signed the brokers' certificates (PEM): what a client trusts (KAFKA_SSL_CAFILE)."""
        return self.workdir / "tls" / "ca.crt"

    def password(self, user: str) -> str:
        """A SCRAM user's password (``admin`` or one of ``users``)."""
        return self._passwords()[user]

    def security_for(self, user: str | None = ADMIN) -> KafkaSecurity:
        """The KafkaSecurity of a client logging in as ``user`` (the super user ``admin`` by default; None: no login,
        TLS only, for showing that a client without credentials is refused)."""
        if not self.secured:
            return KafkaSecurity()
        if user is None:
            return KafkaSecurity("SSL", cafile=str(self.ca_file))
        return KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", user, self.password(user), cafile=str(self.ca_file))

    def client_env(self, user: str) -> dict[str, str]:
        """Environment variables that make a Skolit process (shared/settings.py KafkaSecurity) log in as ``user``."""
        if not self.secured:
            return {"KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}
        return {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_USERNAME": user,
                "KAFKA_SASL_PASSWORD": self.password(user), "KAFKA_SSL_CAFILE": str(self.ca_file)}

    def _passwords(self) -> dict[str, str]:
        """Every SCRAM user's password, made once per workdir (users.json) so that a restarted cluster keeps them."""
        path = self.workdir / "users.json"
        known: dict[str, str] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        wanted = [ADMIN, *self.users]
        if any(u not in known for u in wanted):
            for user in wanted:
                known.setdefault(user, secrets.token_hex(16))
            self.workdir.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(known, indent=1), encoding="utf-8")
            path.chmod(0o600)
        return known

    def log_path(self, node_id: int) -> Path:
        return self._nodes[node_id].log_path

    def data_dir(self, node_id: int) -> Path:
        return self._nodes[node_id].dir / "data"

    def start(self, timeout: float = 180.0) -> str:
        """Format storage if new, start every node, wait until all brokers are registered; returns the bootstrap."""
        lib = fetch()
        java_bin = java()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._plan()
        unformatted = [n for n in self._nodes.values() if not (n.dir / "data" / "meta.properties").exists()]
        for node in self._nodes.values():
            self._write_properties(node)
        if unformatted:
            self._format(java_bin, lib, unformatted)
        self._register_atexit()
        try:
            for node in self._nodes.values():
                self._spawn(node, java_bin, lib)
            self.wait_ready(timeout)
            if self.acls:
                applied = _run_coroutine_in_thread(_create_acls(self.direct_bootstrap, self.security_for(ADMIN), list(self.acls)), timeout=60)
                log.info("applied %s ACLs", applied)
        except BaseException:
            self.stop()
            raise
        log.info("Apache Kafka %s ready: %s node(s) on %s", kafka_version(), self.nodes, self.bootstrap)
        return self.bootstrap

    async def astart(self, timeout: float = 180.0) -> str:
        return await asyncio.to_thread(self.start, timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to every node (a controlled shutdown), SIGKILL to any still running after ``timeout``."""
        running = [n for n in self._nodes.values() if n.proc is not None and n.proc.poll() is None]
        for node in running:
            with contextlib.suppress(ProcessLookupError):
                node.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        for node in running:
            try:
                node.proc.wait(max(0.1, deadline - time.monotonic()))  # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                log.warning("Kafka node %s did not stop within %.0f s; killing it", node.spec.node_id, timeout)
        for node in self._nodes.values():
            self._reap(node)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    def kill(self, node_id: int) -> None:
        """SIGKILL one node, as a crash would."""
        node = self._nodes[node_id]
        if node.proc is not None and node.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.proc.pid, signal.SIGKILL)
            node.proc.wait(10)
        self._reap(node)

    def stop_node(self, node_id: int, timeout: float = 60.0) -> None:
        """A controlled shutdown of one node (SIGTERM: leadership moves away first), SIGKILL after ``timeout``."""
        node = self._nodes[node_id]
        if node.proc is not None and node.proc.poll() is None:
            node.proc.send_signal(signal.SIGTERM)
            try:
                node.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("Kafka node %s did not stop within %.0f s; killing it", node_id, timeout)
        self._reap(node)

    def start_node(self, node_id: int, timeout: float = 120.0) -> None:
        """Start one node again (after kill/stop_node) and wait until every broker is registered once more."""
        node = self._nodes[node_id]
        if self.is_running(node_id):
            return
        self._spawn(node, java(), fetch())
        self.wait_ready(timeout)

    def is_running(self, node_id: int) -> bool:
        proc = self._nodes[node_id].proc
        return proc is not None and proc.poll() is None

    def pid(self, node_id: int) -> int | None:
        proc = self._nodes[node_id].proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def wait_ready(self, timeout: float = 120.0, *, brokers: int | None = None) -> None:
        """Until ``brokers`` (all running nodes by default) are registered and metadata names a controller."""
        want = brokers if brokers is not None else sum(1 for n in self._nodes if self.is_running(n))
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            for node in self._nodes.values():
                if node.proc is not None and node.proc.poll() is not None:
                    raise RuntimeError(f"Kafka node {node.spec.node_id} exited with code {node.proc.returncode}:\n{_tail(node.log_path)}")
            # every running node must answer metadata on its own port (a broker serves clients only once it has started)
            # and list itself: a node just killed may still be listed by the others until the controller fences it
            running = [n for n in self._nodes.values() if self.is_running(n.spec.node_id)]
            try:
                for node in running:
                    if not port_open("127.0.0.1", node.spec.port):
                        raise ConnectionError(f"node {node.spec.node_id}'s port {node.spec.port} not open yet")
                    found = _run_coroutine_in_thread(_registered_brokers(f"127.0.0.1:{node.spec.port}", self.security_for(ADMIN)),
                                                     timeout=max(1.0, min(10.0, deadline - time.monotonic())))
                    if not isinstance(found, list) or len(found) < want or node.spec.node_id not in found:
                        raise ConnectionError(f"node {node.spec.node_id} lists brokers {found}, waiting for {want} including itself")
                return
            except Exception as exc:  # noqa: BLE001 - not ready yet
                last = exc
            time.sleep(0.25)
        tails = "\n".join(f"--- node {n.spec.node_id} ({n.log_path}):\n{_tail(n.log_path, 15)}" for n in self._nodes.values())
        raise TimeoutError(f"Apache Kafka did not become ready within {timeout:.0f} s (last: {last!r})\n{tails}")

    def leader(self, topic: str, partition: int) -> int:
        """The node that leads ``topic``'s ``partition`` now (-1 if none)."""
        result = _run_coroutine_in_thread(_leader(self.direct_bootstrap_running(), topic, partition, self.security_for(ADMIN)), timeout=15)
        return int(result)  # type: ignore[call-overload]

    def direct_bootstrap_running(self) -> str:
        return ",".join(f"127.0.0.1:{n.spec.port}" for n in self._nodes.values() if self.is_running(n.spec.node_id))

    def __enter__(self) -> KafkaCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------------------------------------------------

    def _plan(self) -> None:
        """Each node's ports and directory id: from cluster.json when this workdir ran before, else chosen now."""
        saved = self.workdir / "cluster.json"
        if saved.exists():
            data = json.loads(saved.read_text(encoding="utf-8"))
            specs = [NodeSpec(**s) for s in data["nodes"]]
            if len(specs) != self.nodes:
                raise RuntimeError(f"{self.workdir} holds a {len(specs)}-node cluster, not {self.nodes}: delete it to start afresh")
            if self.ports is not None and [s.port for s in specs] != list(self.ports):
                raise RuntimeError(f"{self.workdir} holds a cluster on ports {[s.port for s in specs]}, not {list(self.ports)}: "
                                   "delete it to start afresh")
            if self.advertised_ports is not None:
                for s, advertised_port in zip(specs, self.advertised_ports, strict=True):
                    s.advertised_port = advertised_port
            self.cluster_id = data["cluster_id"]
        else:
            ports = list(self.ports) if self.ports is not None else [free_port() for _ in range(self.nodes)]
            advertised = list(self.advertised_ports) if self.advertised_ports is not None else ports
            if len(ports) != self.nodes or len(advertised) != self.nodes:
                raise ValueError(f"{self.nodes} node(s) need {self.nodes} port(s)")
            for port in ports:
                if port_open("127.0.0.1", port):
                    raise RuntimeError(f"port {port} is already in use: cannot start Apache Kafka there")
            specs = [NodeSpec(i + 1, ports[i], advertised[i], free_port(), free_port(), new_uuid()) for i in range(self.nodes)]
            self.cluster_id = self.cluster_id or new_uuid()
            saved.write_text(json.dumps({"cluster_id": self.cluster_id, "version": kafka_version(), "nodes": [asdict(s) for s in specs]}, indent=1),
                             encoding="utf-8")
        self._nodes = {s.node_id: _Node(s, self.workdir / f"node-{s.node_id}") for s in specs}

    def _security_properties(self, node: _Node) -> dict[str, str]:
        """SASL_SSL + SCRAM-SHA-512 for clients, SASL PLAIN (the super user) between brokers and controllers, ACLs on."""
        if not self.secured:
            return {"listener.security.protocol.map": "CLIENT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"}
        tls = self.workdir / "tls"
        make_ca(tls)
        keys = broker_keys(tls, node.spec.node_id)
        admin = self.password(ADMIN)
        plain = (f'org.apache.kafka.common.security.plain.PlainLoginModule required username="{ADMIN}" password="{admin}" '
                 f'user_{ADMIN}="{admin}";')
        return {
            "listener.security.protocol.map": "CLIENT:SASL_SSL,INTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
            "listener.name.client.sasl.enabled.mechanisms": CLIENT_SASL_MECHANISM,
            "listener.name.client.scram-sha-512.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "listener.name.client.ssl.keystore.type": "PEM",
            "listener.name.client.ssl.keystore.key": one_line(keys.key_pem),
            "listener.name.client.ssl.keystore.certificate.chain": one_line(keys.chain_pem),
            "listener.name.client.ssl.client.auth": "none",
            "listener.name.internal.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.internal.plain.sasl.jaas.config": plain,
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": plain,
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "sasl.mechanism.controller.protocol": "PLAIN",
            "authorizer.class.name": AUTHORIZER,
            "super.users": f"User:{ADMIN}",
            "allow.everyone.if.no.acl.found": "false",
        }

    def _write_properties(self, node: _Node) -> None:
        s = node.spec
        quorum = ",".join(f"127.0.0.1:{n.spec.controller_port}" for n in self._nodes.values())
        props = {
            "process.roles": "broker,controller",
            "node.id": str(s.node_id),
            "controller.quorum.bootstrap.servers": quorum,
            "listeners": f"CLIENT://127.0.0.1:{s.port},INTERNAL://127.0.0.1:{s.internal_port},CONTROLLER://127.0.0.1:{s.controller_port}",
            "advertised.listeners": f"CLIENT://127.0.0.1:{s.advertised_port},INTERNAL://127.0.0.1:{s.internal_port},"
                                    f"CONTROLLER://127.0.0.1:{s.controller_port}",
            **self._security_properties(node),
            "inter.broker.listener.name": "INTERNAL",
            "controller.listener.names": "CONTROLLER",
            "log.dirs": str(node.dir / "data"),
            **LOCAL_SIZING,
            **self.settings(),
        }
        node.dir.mkdir(parents=True, exist_ok=True)
        text = "# written by devkit/kafka (KafkaCluster): rewritten at every start\n" + "".join(f"{k}={v}\n" for k, v in props.items())
        node.properties.write_text(text, encoding="utf-8")

    def _format(self, java_bin: str, lib: Path, nodes: list[_Node]) -> None:
        """``kafka-storage format`` for each new node: the one cluster id, and the initial controllers (all nodes)."""
        if self.nodes == 1:
            quorum = ["--standalone"]
        else:
            voters = ",".join(f"{n.spec.node_id}@127.0.0.1:{n.spec.controller_port}:{n.spec.directory_id}" for n in self._nodes.values())
            quorum = ["--initial-controllers", voters]
        if self.secured:  # the SCRAM users, written into the first metadata (KIP-900)
            for user, password in self._passwords().items():
                quorum += ["--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]"]
        procs = []
        for node in nodes:
            cmd = [java_bin, "-Xmx128m", "-XX:TieredStopAtLevel=1", f"-Dlog4j2.configurationFile={LOG4J2}", "-cp", f"{lib}/*",
                   "kafka.tools.StorageTool", "format", "-t", self.cluster_id, "-c", str(node.properties), *quorum]
            procs.append((node, cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)))
        for node, cmd, proc in procs:
            out, _ = proc.communicate(timeout=120)
            if proc.returncode != 0:
                raise RuntimeError(f"formatting Kafka node {node.spec.node_id} failed: {' '.join(cmd)}\n{out.decode(errors='replace')}")

    def _spawn(self, node: _Node, java_bin: str, lib: Path) -> None:
        if port_open("127.0.0.1", node.spec.port):
            raise RuntimeError(f"port {node.spec.port} is already in use: cannot start Kafka node {node.spec.node_id} there")
        heap = self.heap
        cmd = [java_bin, f"-Xmx{heap}", f"-Xms{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
               f"-Dlog4j2.configurationFile={LOG4J2}", f"-Dkafka.logs.dir={node.dir}", "-cp", f"{lib}/*", "kafka.Kafka", str(node.properties)]
        log_file = open(node.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        log_file.write(f"--- devkit/kafka starting node {node.spec.node_id} at {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
        log_file.flush()
        node.log_file = log_file
        node.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, cwd=node.dir,
                                     start_new_session=True)

    def _reap(self, node: _Node) -> None:
        proc = node.proc
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        if node.log_file is not None:
            with contextlib.suppress(Exception):
                node.log_file.close()
            node.log_file = None

    def _atexit_stop(self) -> None:
        with contextlib.suppress(Exception):
            self.stop(timeout=15)


async def _registered_brokers(bootstrap: str, security: KafkaSecurity) -> list[int]:
    """The brokers metadata lists (registered and not fenced), once it names a controller."""
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=5000, metadata_max_age_ms=1000, **security.client_kwargs())
    await client.bootstrap()
    try:
        if client.cluster.controller is None:
            return []
        return sorted(b.nodeId for b in client.cluster.brokers())
    finally:
        await client.close()


async def _leader(bootstrap: str, topic: str, partition: int, security: KafkaSecurity) -> int:
    from aiokafka.client import AIOKafkaClient
    from aiokafka.structs import TopicPartition

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=5000, **security.client_kwargs())
    await client.bootstrap()
    try:
        metadata = await client.fetch_all_metadata()
        leader = metadata.leader_for_partition(TopicPartition(topic, partition))
        return -1 if leader is None else int(leader)
    finally:
        await client.close()


async def _create_acls(bootstrap: str, security: KafkaSecurity, acls: list[Any]) -> int:
    """Create each ACL (devkit/kafka/acls.py's Acl: an ALLOW rule) with CreateAcls; an ACL that exists already is no
    error. Returns how many were sent."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.protocol.admin import CreateAclsRequest

    from devkit.kafka.acls import ALLOW, OPERATIONS, PATTERN_TYPES, RESOURCE_TYPES

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **security.client_kwargs())
    await admin.start()
    try:
        for acl in acls:
            request = CreateAclsRequest(RESOURCE_TYPES[acl.resource_type], acl.name, PATTERN_TYPES[acl.pattern], f"User:{acl.principal}", "*",
                                        OPERATIONS[acl.operation], ALLOW)
            response = await admin._send_request(request)
            for item in response.creation_responses:
                if int(item[0]) != 0:
                    raise RuntimeError(f"CreateAcls refused {acl}: error {item[0]} {item[1]}")
        return len(acls)
    finally:
        await admin.close()


__all__ = ["DEFAULT_HEAP", "KafkaCluster", "KafkaUnavailable", "broker_settings", "fetch", "is_fetched", "java", "kafka_version", "lib_dir"]
