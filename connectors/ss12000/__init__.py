"""The SS 12000 connector: the city's school administration data (SS 12000 v2 API) into Skolit's city events.

    python -m connectors.ss12000                      serve: the periodic sync, webhooks, POST /sync, the imports (port 8105)
    python -m connectors.ss12000 sync [--full] [--dry-run]   one sync now, from the command line
    python -m connectors.ss12000 provision|migrate|republish|outbox ...   as every Skolit service

docs/decisions/0021-ss12000-connector.md says how it works and why; docs/runbook.md what to do when it stalls.
"""
