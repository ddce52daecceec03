"""A test server for the SS 12000 API (the Swedish standard for school data exchange): a generated city served with
OAuth2 client credentials, paging, modified-after filtering, deletions, subscriptions with webhook calls and injected
faults, for the SS 12000 connector's tests and `make bench` (docs/benchmarks.md). Development tooling: never imported by
services/ or shared/. `python -m devkit.ss12000 --help`; ``build_app(City.generate(...))`` in-process."""
