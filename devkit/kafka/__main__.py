"""python -m devkit.kafka fetch | run [--nodes 1|3] [--port P] [--workdir DIR] [--secure]: see devkit/kafka/__init__.py.

``--secure`` runs the cluster as production is secured (SASL_SSL, SCRAM-SHA-512, ACLs from devkit/kafka/acls.py, a user
per Skolit principal) and prints the environment each principal's processes need."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
import threading
from pathlib import Path

from devkit.kafka import KafkaCluster, KafkaUnavailable, fetch, kafka_version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.kafka", description="Apache Kafka from devkit/kafka/pom.xml, on loopback.")
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("fetch", help="fetch the pinned Apache Kafka jars with Maven (once per pom)")
    get.add_argument("--force", action="store_true", help="fetch again even if the jars are there")
    run = sub.add_parser("run", help="start a cluster and keep it until Ctrl-C")
    run.add_argument("--nodes", type=int, choices=(1, 3), default=1)
    run.add_argument("--port", type=int, help="the first node's client port (the others follow it); free ports if not given")
    run.add_argument("--workdir", type=Path, help="the cluster's data (kept); a temporary folder if not given")
    run.add_argument("--secure", action="store_true", help="SASL_SSL + SCRAM-SHA-512 + Skolit's ACLs, a user per principal")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    try:
        if args.command == "fetch":
            lib = fetch(force=args.force)
            print(f"Apache Kafka {kafka_version()}: {len(list(lib.glob('*.jar')))} jars in {lib}")
            return 0
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="skolit-kafka-"))
        ports = [args.port + i for i in range(args.nodes)] if args.port else None
        if args.secure:
            from devkit.kafka.acls import accesses, all_acls

            cluster = KafkaCluster(workdir, nodes=args.nodes, ports=ports, security="sasl_ssl", users=[a.principal for a in accesses()],
                                   acls=all_acls())
        else:
            cluster = KafkaCluster(workdir, nodes=args.nodes, ports=ports)
        done = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
        bootstrap = cluster.start()
        print(f"Apache Kafka {kafka_version()}, {args.nodes} node(s): KAFKA_BOOTSTRAP_SERVERS={bootstrap}\n"
              f"data and logs in {workdir}; Ctrl-C stops it", flush=True)
        if args.secure:
            for user in ["admin", *cluster.users]:
                env = " ".join(f"{k}={v}" for k, v in cluster.client_env(user).items())
                print(f"  as {user}: {env}", flush=True)
        try:
            done.wait()
        finally:
            cluster.stop()
        return 0
    except KafkaUnavailable as exc:
        print(f"devkit.kafka: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
