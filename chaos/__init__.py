"""Fault injection with an exactness audit (``make chaos``, issue 8).

Runs the real system on loopback — embedded PostgreSQL, the Tansu broker behind a cuttable TCP
proxy, the four services as processes — produces a stream of city events with some poison mixed
in, and meanwhile SIGKILLs services, restarts PostgreSQL, cuts the broker off and lets second
replicas join and leave the consumer groups. When everything is quiet again it audits, as the
database administrator, that every event took effect exactly once in every service that consumes
it and that every poison message went to the dead-letter topics with its reason.

    .venv/bin/python -m chaos [--events 100000] [--kills 20] ...        (or: make chaos)

Modules: ``workload`` (the city and its events), ``cluster`` (processes: PostgreSQL, Tansu, the
proxy, the services and their replicas), ``faults`` (the fault plan and its injection),
``audit`` (the exactness audit), ``report`` (docs/chaos.md and docs/chaos.json), ``run`` (the
orchestration and the command line).
"""
