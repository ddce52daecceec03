# Skolit — the two commands: `make run` (whole system on the embedded default) and `make test`.
# Everything is installed into .venv from this repository's own files; only Python >= 3.11 is needed.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run reset test test-kafka lint unit asyncapi bench chaos clean kafka

## The city's OpenID provider for make run and the tests (devkit/oidc: panva's oidc-provider, Node.js >= 20) is installed
## from its lock file with npm ci; a changed lock file re-runs the install. Without Node.js, make run still runs (development
## tokens only); the tests need it, because sign-in is tested against a real provider process.
$(STAMP): pyproject.toml devkit/oidc/package-lock.json devkit/browser/package-lock.json
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Skolit needs Python >= 3.11"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@if command -v npm >/dev/null; then npm ci --prefix devkit/oidc --silent --no-audit --no-fund && \
	npm ci --prefix devkit/browser --silent --no-audit --no-fund; \
	else echo "Node.js/npm not found: make run uses development tokens only; make test needs Node.js >= 20 (devkit/oidc)"; fi
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## Apache Kafka (devkit/kafka) for SKOLIT_BROKER=kafka make run and the tests on Apache Kafka: Maven fetches the jars
## devkit/kafka/pom.xml pins from Maven Central into .venv/kafka/<version>/lib once (needs Java >= 17 and Maven);
## a changed pom fetches again. Nothing is installed system-wide.
KAFKA_STAMP := $(VENV)/kafka/.fetched-$(shell cat devkit/kafka/pom.xml | cksum | cut -d' ' -f1)

$(KAFKA_STAMP): devkit/kafka/pom.xml $(STAMP)
	$(PY) -m devkit.kafka fetch
	@rm -f $(VENV)/kafka/.fetched-* && touch $@

kafka: $(KAFKA_STAMP)

## make run — PostgreSQL + Kafka-protocol broker (embedded unless DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS are set;
## SKOLIT_BROKER=kafka make run starts a one-node Apache Kafka instead of the embedded Tansu),
## the four services and a demo city. Ctrl-C stops everything. ARGS="--reset" starts from empty data.
run: $(STAMP) $(if $(filter kafka,$(SKOLIT_BROKER)),$(KAFKA_STAMP))
	$(PY) -m devkit.devstack $(ARGS)

reset: $(STAMP) $(if $(filter kafka,$(SKOLIT_BROKER)),$(KAFKA_STAMP))
	$(PY) -m devkit.devstack --reset $(ARGS)

## The tests check the alert rules with promtool and run a real Prometheus: Debian's package, unpacked into
## .venv/prometheus once (deploy/prometheus/install.sh); the stamp re-runs it when the script changes.
PROMETHEUS_STAMP := $(VENV)/prometheus/.installed

$(PROMETHEUS_STAMP): deploy/prometheus/install.sh
	bash deploy/prometheus/install.sh
	@touch $@

## The web app's browser tests (tests/web/) drive Debian's Chromium: devkit/chromium.sh makes sure it is there (apt-get,
## as root or with sudo -n), or fails saying what to install. The tests fail, never skip, without it.
CHROMIUM_STAMP := $(VENV)/.chromium-checked

$(CHROMIUM_STAMP): devkit/chromium.sh
	bash devkit/chromium.sh
	@touch $@

## make test — unit tests, then integration tests against a real PostgreSQL and broker the session starts, then the
## web app in a real browser. The broker is the embedded Tansu (SKOLIT_TEST_BROKER=kafka: a three-node Apache Kafka);
## tests/integration/test_kafka_security.py starts its own Apache Kafka (SASL_SSL, ACLs); test_apache_kafka.py (its own
## three-node cluster) runs in the Apache Kafka lane (make test-kafka, .ci/run) to keep make test within 15 minutes, and so
## does the fuzzing of every OpenAPI operation (FUZZ_ALL_OPERATIONS, about a minute; it does not depend on the broker).
## pytest's exit 5 (no tests collected) is reported, not hidden as a pass.
FUZZ_ALL_OPERATIONS := tests/integration/test_hostile_input.py::test_no_generated_request_gets_a_server_error_a_bare_4xx_or_an_answer_its_document_does_not_describe
test: $(STAMP) $(PROMETHEUS_STAMP) $(CHROMIUM_STAMP) $(KAFKA_STAMP) lint
	@$(PY) -m pytest --ignore=tests/integration/test_apache_kafka.py --deselect $(FUZZ_ALL_OPERATIONS) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; fi; exit $$rc

## make test-kafka — the Apache Kafka lane (.ci/run runs it after make test): the broker-facing integration tests (delivery,
## dead letters, wire-level hostile input, replicas and rebalances, batches, erasure and access, end to end, Prometheus, outbox
## parking, operator listings, the topic scan, reporting from events) against a three-node Apache Kafka cluster
## (SKOLIT_TEST_BROKER=kafka). In file-name order, as make test runs them: the topic scan must read the topics before
## test_wire_property writes its megabyte records there (the scan's patterns are slow over them). pytest's exit 5 fails it.
KAFKA_LANE := tests/integration/test_access_export.py tests/integration/test_apache_kafka.py tests/integration/test_batch_apply.py \
	tests/integration/test_dead_letters.py tests/integration/test_delivery.py tests/integration/test_end_to_end.py \
	tests/integration/test_erasure.py tests/integration/test_hostile_input.py tests/integration/test_operator_listing.py \
	tests/integration/test_outbox_parking.py tests/integration/test_prometheus.py tests/integration/test_replicas.py \
	tests/integration/test_reporting.py tests/integration/test_topic_scan.py tests/integration/test_wire_property.py

test-kafka: $(STAMP) $(PROMETHEUS_STAMP) $(KAFKA_STAMP)
	@SKOLIT_TEST_BROKER=kafka $(PY) -m pytest $(KAFKA_LANE) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test-kafka: pytest collected no tests"; rc=1; fi; exit $$rc

## make lint — ruff over every Python file, mypy over the runtime code (shared/, services/); configuration in pyproject.toml,
## the choice in docs/decisions/0013-linting-and-type-checking.md. make test runs it first.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

unit: $(STAMP)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

asyncapi: $(STAMP)
	$(PY) -m services asyncapi --out docs/asyncapi.json

## make bench — every benchmark, then ONE summary: docs/benchmarks.md (the table of targets, met / not met, with machine facts,
## median and spread over runs, a same-run baseline and its ratio) and docs/benchmarks.json (raw). Parts (bench/all.py): city-event
## ingest with the broker's ceiling and a naive consumer, submission → report freshness at 200/s over HTTP, HTTP reads with locust
## at 500/s, the 50,000-guardian broadcast, and the per-area catalog search and reporting benchmarks (their own files under
## docs/benchmarks/ stay). Waits for a quiet machine first; ~20 minutes on two cores. Installs the `bench` extra (locust,
## pyinstrument, psutil) first. ARGS="--only freshness httpReads" or ARGS="--skip broadcast" choose parts. Measurements, not tests.
BENCH_STAMP := $(VENV)/.bench-installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	@rm -f $(VENV)/.bench-installed-* && touch $@

bench: $(STAMP) $(BENCH_STAMP)
	$(PY) -m bench.all $(ARGS)

## make chaos — 100,000 city events (and 0.5% poison) through the broker while services are SIGKILLed, PostgreSQL restarted,
## the broker cut off and second replicas join and leave; then an exactness audit (nothing lost, nothing doubled, poison
## dead-lettered). Embedded PostgreSQL and Tansu in a temporary directory; about 10 minutes. Writes docs/chaos.{md,json};
## ARGS="--events 5000 --rate 100 --kills 4 --postgres-restarts 1 --broker-outages 1 --out /tmp/chaos" for a quick one.
## Exits 1 when the audit is not exact.
chaos: $(STAMP)
	$(PY) -m chaos $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
