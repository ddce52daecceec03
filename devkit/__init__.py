"""Development and demo tooling: `make run` (devstack), the embedded PostgreSQL and broker, the local mail
catcher and gateway sinks, the demo city and its seeders, the city-publishing and token CLIs, and the one
helper that starts and watches a service process.

Nothing here runs in production and nothing in services/ or shared/ imports it (tests/unit/test_layers.py).
"""
