"""The demo data of `make run`: a fictional city (city.py) and the seeders that fill each service through
its own API (assessment, catalog, notification) or its events (reporting)."""
