"""Benchmarks: measurements of the running system, written to docs/benchmarks (not tests; `make bench`)."""
