"""Production mode fails closed (docs/decisions/0023-production-mode.md).

With ``SKOLIT_ENV=production`` (docker-compose.yml, deploy/k8s) a Skolit process refuses to start while any development
secret is in force or a setting production needs is missing: it prints one line per problem, each naming the variable,
and exits with status 2 before it binds a port or connects anywhere. The development default (``SKOLIT_ENV`` unset or
``development``: `make run`, the tests) is unchanged: it keeps taking the development secrets.

A problem line never holds a secret's value, only its name and what is wrong with it. Secrets come from the variable
itself, or from ``<NAME>_FILE`` only where the code reading it takes a file (``KAFKA_SASL_PASSWORD_FILE``).

``problems(service, env)`` lists what keeps ``env`` from starting ``service`` in production (for tests and tools);
``enforce(service)`` is what a process calls first: services (shared/cli.py), the web app (web/__main__.py) and the
SS 12000 connector (connectors/, service ``connector``).
"""

from __future__ import annotations

import base64
import binascii
import os
import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from shared.privacy.vault import DEV_MASTER_KEY
from shared.settings import CONNECTOR, DEFAULT_PORTS, DEV_JWT_SECRET, ENVIRONMENTS, PRODUCTION, SERVICES, environment

WEB = "web"
#: every process that checks its configuration here
PROCESSES = (*SERVICES, CONNECTOR, WEB)
#: the exit status of a refused start (argparse's for a usage error: the configuration is the process's input)
EXIT_STATUS = 2
#: tokens and keys a person never types: long enough that guessing is hopeless (32 characters of URL-safe base64 is 192 bits)
MIN_SECRET_CHARS = 32
#: passwords of the database roles and Kafka users, which a person might choose
MIN_PASSWORD_CHARS = 16

# The development defaults, as the services and the web app define them. Copied, because shared/ imports neither
# services/ nor web/; tests/unit/test_production_rules.py fails when a copy and its original part.
#: services/notification/settings.py DEV_CALLBACK_TOKEN
DEV_CALLBACK_TOKEN = "skolit-gateway-callbacks-dev"
#: the key (not its id) of services/notification/crypto.py DEV_KEYS: refused under any id
DEV_NOTIFICATION_KEY = b"skolit-notification-dev-key-32b!"
#: services/reporting/settings.py DEV_LINK_SECRET
DEV_LINK_SECRET = "skolit-report-links-dev-not-for-production"
#: web/settings.py DEV_SESSION_SECRET
DEV_SESSION_SECRET = "skolit-web-dev-session-key-not-for-production"
#: every development password ends so: shared/settings.py's skolit-<service>-dev, docker-compose's old Kafka defaults
DEV_PASSWORD_SUFFIX = "-dev"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class _Env:
    """The environment as the settings read it: an empty value is no value."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def get(self, name: str) -> str | None:
        value = self._env.get(name)
        return value if value else None

    def flag(self, name: str) -> bool:
        return (self.get(name) or "").strip().lower() in ("1", "true", "yes", "on")


Rule = Callable[[_Env], Iterator[str]]


def _secret(name: str, value: str | None, *, why_needed: str, development: Collection[str] = (),
            minimum: int = MIN_SECRET_CHARS) -> Iterator[str]:
    """A secret that must be set, must not be a development value and must be long enough; ``name`` may say where it
    was found ("DATABASE_URL's password"). The value itself is never part of a message."""
    if not value:
        yield f"{name} is not set" + (f": {why_needed}" if why_needed else "")
    elif value in development:
        yield f"{name} is a development value, published in Skolit's source: set a random one"
    elif value.endswith(DEV_PASSWORD_SUFFIX):
        yield f"{name} ends in {DEV_PASSWORD_SUFFIX}, as the development passwords do: set a random one"
    elif len(value) < minimum:
        yield f"{name} is shorter than {minimum} characters"


def _required(env: _Env, name: str, why_needed: str) -> Iterator[str]:
    if not env.get(name):
        yield f"{name} is not set: {why_needed}"


def _loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS


# ------------------------------------------------------------------------------------ every process with an API


def identity_provider(env: _Env) -> Iterator[str]:
    """Production takes only the city's provider's tokens (RS256/ES256 from its JWKS): a shared HS256 secret lets
    whoever knows it mint any role, and the development one is in Skolit's source."""
    secret = env.get("SKOLIT_JWT_SECRET")
    if secret == DEV_JWT_SECRET:
        yield "SKOLIT_JWT_SECRET is the development secret, published in Skolit's source: unset it (production takes the city's provider)"
    elif secret:
        yield "SKOLIT_JWT_SECRET is set: HS256 development tokens would be taken; unset it (production takes the city's provider)"
    yield from _required(env, "SKOLIT_JWT_JWKS_URL", "the city's OpenID provider's keys, which sign the access tokens")
    yield from _required(env, "SKOLIT_JWT_ISSUER", "the city's OpenID provider, whose tokens alone are taken")
    yield from _required(env, "SKOLIT_JWT_AUDIENCE", "without it a token the provider issued for any other application is taken")


def clock(env: _Env) -> Iterator[str]:
    if env.flag("SKOLIT_ALLOW_CLOCK_OVERRIDE"):
        yield "SKOLIT_ALLOW_CLOCK_OVERRIDE is on: jobs would run as of any date a caller names (tests and the demo only); unset it"


def database(service: str, env: _Env) -> Iterator[str]:
    """The service's own login (shared/settings.py service_database_url) and the administrator's URL."""
    up = service.upper()
    explicit = env.get(f"SKOLIT_{up}_DATABASE_URL")
    admin = env.get("DATABASE_URL")
    if explicit:
        # a URL without a password logs in otherwise (PGPASSWORD, a client certificate): nothing to judge here
        password = urlsplit(explicit).password
        if password is not None:
            yield from _secret(f"SKOLIT_{up}_DATABASE_URL's password", password, why_needed="", development=(f"skolit-{service}-dev",),
                               minimum=MIN_PASSWORD_CHARS)
    else:
        yield from _required(env, "DATABASE_URL", "the embedded development database would be used")
        yield from _secret(f"SKOLIT_{up}_DB_PASSWORD", env.get(f"SKOLIT_{up}_DB_PASSWORD"), development=(f"skolit-{service}-dev",),
                           why_needed=f"role skolit_{service} would log in with the development password skolit-{service}-dev",
                           minimum=MIN_PASSWORD_CHARS)
    if admin and urlsplit(admin).password is not None:
        yield from _secret("DATABASE_URL's password", urlsplit(admin).password, why_needed="", minimum=MIN_PASSWORD_CHARS)


def kafka(env: _Env) -> Iterator[str]:
    """Where SASL is on, the process's Kafka user's password (KafkaSecurity.from_env reads it the same way)."""
    yield from _required(env, "KAFKA_BOOTSTRAP_SERVERS", "the embedded development broker would be used")
    protocol = (env.get("KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT").upper()
    if not protocol.startswith("SASL_"):
        return
    name, password = "KAFKA_SASL_PASSWORD", env.get("KAFKA_SASL_PASSWORD")
    path = env.get("KAFKA_SASL_PASSWORD_FILE")
    if password is None and path:
        name = "KAFKA_SASL_PASSWORD_FILE's password"
        try:
            password = Path(path).read_text(encoding="utf-8").strip()
        except OSError:
            yield "KAFKA_SASL_PASSWORD_FILE cannot be read"
            return
    yield from _secret(name, password, why_needed=f"KAFKA_SECURITY_PROTOCOL={protocol} logs in with a password", minimum=MIN_PASSWORD_CHARS)


def _decoded(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def keyvault(env: _Env) -> Iterator[str]:
    """The master key wrapping every person's key (shared/privacy/vault.py, decision 0009)."""
    name, value = "SKOLIT_KEYVAULT_MASTER_KEY", env.get("SKOLIT_KEYVAULT_MASTER_KEY")
    if not value:
        yield f"{name} is not set: the development master key would wrap every person's key"
    elif value == DEV_MASTER_KEY or _decoded(value) == _decoded(DEV_MASTER_KEY):
        yield f"{name} is the development master key, published in Skolit's source: make one (base64 of 32 random bytes)"
    elif len(_decoded(value) or b"") != 32:
        yield f"{name} is not base64 of 32 bytes"


def cors(env: _Env) -> Iterator[str]:
    """The browser origins allowed to call the API (Settings.cors_origins): named, never everyone."""
    origins = [o.strip() for o in (env.get("SKOLIT_CORS_ORIGINS") or "").split(",") if o.strip()]
    if not origins:
        yield "SKOLIT_CORS_ORIGINS is not set: name the web app's origin (SKOLIT_WEB_BASE_URL, e.g. https://skolit.example.se)"
    elif "*" in origins:
        yield "SKOLIT_CORS_ORIGINS allows every origin (*): name the web app's origins"


# ------------------------------------------------------------------------------------ one service's own


def notification(env: _Env) -> Iterator[str]:
    """services/notification/settings.py and crypto.py."""
    yield from _required(env, "SKOLIT_NOTIFICATION_SMTP_HOST", "e-mail would go to the development sink on 127.0.0.1:8025")
    yield from _required(env, "SKOLIT_NOTIFICATION_WEB_URL", "links in messages would lead to http://localhost:3000")
    yield from _required(env, "SKOLIT_NOTIFICATION_PUBLIC_URL", "gateways would send their delivery reports to 127.0.0.1")
    yield from _secret("SKOLIT_NOTIFICATION_CALLBACK_TOKEN", env.get("SKOLIT_NOTIFICATION_CALLBACK_TOKEN"), development=(DEV_CALLBACK_TOKEN,),
                       why_needed="gateways' delivery reports would be taken with the development token")
    if env.flag("SKOLIT_NOTIFICATION_WEBPUSH_ALLOW_HTTP"):
        yield "SKOLIT_NOTIFICATION_WEBPUSH_ALLOW_HTTP is on: push subscriptions over plain http (the local sinks only); unset it"
    if (env.get("SKOLIT_NOTIFICATION_SMS_PROVIDER") or "").strip().lower() == "46elks":
        for name in ("SKOLIT_NOTIFICATION_46ELKS_USERNAME", "SKOLIT_NOTIFICATION_46ELKS_PASSWORD"):
            yield from _required(env, name, "SKOLIT_NOTIFICATION_SMS_PROVIDER=46elks logs in to 46elks with it")
    if env.get("SKOLIT_NOTIFICATION_BOUNCE_TOKEN"):  # unset, the bounce webhook takes the callback token (checked above)
        yield from _secret("SKOLIT_NOTIFICATION_BOUNCE_TOKEN", env.get("SKOLIT_NOTIFICATION_BOUNCE_TOKEN"), development=(DEV_CALLBACK_TOKEN,),
                           why_needed="")
    keys = env.get("SKOLIT_NOTIFICATION_KEYS")
    if not keys:
        yield "SKOLIT_NOTIFICATION_KEYS is not set: contact details would be encrypted with the development key"
        return
    for part in (p.strip() for p in keys.split(",") if p.strip()):
        key_id, _, encoded = part.partition(":")
        key = _decoded(encoded)
        if not key_id or key is None or len(key) != 32:
            yield "SKOLIT_NOTIFICATION_KEYS is not id:base64-of-32-bytes[,id:base64-of-32-bytes...]"
            return
        if key == DEV_NOTIFICATION_KEY:
            # the id is a label, not a secret: it tells the operator which entry to replace
            yield f"SKOLIT_NOTIFICATION_KEYS holds the development key (id {key_id!r}), published in Skolit's source: remove it"


def reporting(env: _Env) -> Iterator[str]:
    """services/reporting/settings.py: the key signing links to the annual report."""
    yield from _secret("SKOLIT_REPORTING_LINK_SECRET", env.get("SKOLIT_REPORTING_LINK_SECRET"), development=(DEV_LINK_SECRET,),
                       why_needed="signed links to the annual report would be off")


def connector(env: _Env) -> Iterator[str]:
    """connectors/ss12000: the city's SS 12000 API is read with OAuth2 client credentials."""
    if env.get("SKOLIT_SS12000_URL") and not (env.get("SKOLIT_SS12000_CLIENT_SECRET") or env.get("SKOLIT_SS12000_CLIENT_SECRET_FILE")):
        yield "SKOLIT_SS12000_CLIENT_SECRET is not set (nor SKOLIT_SS12000_CLIENT_SECRET_FILE): SKOLIT_SS12000_URL needs the client's secret"


def web(env: _Env) -> Iterator[str]:
    """web/settings.py: sign-in with the city's provider only, a session key of its own, https."""
    if env.flag("SKOLIT_WEB_DEV"):
        yield "SKOLIT_WEB_DEV is on: the development sign-in page and session key; unset it"
    if env.get("SKOLIT_WEB_DEV_PERSONAS"):
        yield "SKOLIT_WEB_DEV_PERSONAS is set: it lists development personas and their passwords; unset it"
    yield from _secret("SKOLIT_WEB_SESSION_SECRET", env.get("SKOLIT_WEB_SESSION_SECRET"), development=(DEV_SESSION_SECRET,),
                       why_needed="it seals the session cookies (the same for every replica)")
    if not (env.get("SKOLIT_WEB_OIDC_ISSUER") or env.get("SKOLIT_JWT_ISSUER")):
        yield "SKOLIT_WEB_OIDC_ISSUER is not set: sign-in would go to the development provider on 127.0.0.1:8110"
    base = env.get("SKOLIT_WEB_BASE_URL")
    if not base:
        yield "SKOLIT_WEB_BASE_URL is not set: where people reach the app (sign-in's redirect, links in messages)"
    elif urlsplit(base).scheme != "https" and not _loopback(base):
        yield "SKOLIT_WEB_BASE_URL is not https: the session cookie would cross the network unencrypted (only localhost may use http)"
    for name in (*SERVICES, CONNECTOR):  # the connector: city admins' imports (web/pages/imports.py)
        yield from _required(env, f"SKOLIT_WEB_{name.upper()}_URL", f"the web app would call 127.0.0.1:{DEFAULT_PORTS[name]}")


# ------------------------------------------------------------------------------------ per process

#: the rules each process answers to, by part (``problems(..., parts=...)`` checks some of them)
RULES: dict[str, dict[str, Rule]] = {
    **{service: {"identity": identity_provider, "clock": clock, "database": partial(database, service), "kafka": kafka,
                 "keyvault": keyvault, "cors": cors,
                 **({"notification": notification} if service == "notification" else {}),
                 **({"reporting": reporting} if service == "reporting" else {})}
       for service in SERVICES},
    CONNECTOR: {"identity": identity_provider, "clock": clock, "database": partial(database, CONNECTOR), "kafka": kafka,
                "connector": connector},
    WEB: {"web": web},
}


def problems(service: str, env: Mapping[str, str], *, parts: Collection[str] | None = None) -> list[str]:
    """What keeps ``env`` from starting ``service`` in production, one line each naming the variable (whatever
    SKOLIT_ENV says); ``parts`` limits the check (``("database",)`` for `provision`, which only sets the role's password)."""
    if service not in RULES:
        raise ValueError(f"unknown process {service!r}: one of {', '.join(PROCESSES)}")
    rules = RULES[service]
    unknown = set(parts or ()) - set(rules)
    if unknown:
        raise ValueError(f"{service} has no rules {sorted(unknown)}: it has {sorted(rules)}")
    found = _Env(env)
    return [line for name, rule in rules.items() if parts is None or name in parts for line in rule(found)]


def enforce(service: str, env: Mapping[str, str] | None = None, *, parts: Collection[str] | None = None) -> None:
    """In production, exit with status 2 and one line per problem on stderr unless the configuration is complete;
    in development, nothing. An unknown SKOLIT_ENV is refused too: a typo must not fall back to development."""
    env = os.environ if env is None else env
    mode = environment(env)
    if mode not in ENVIRONMENTS:
        _refuse(f"skolit {service}: refusing to start", ["SKOLIT_ENV is neither development nor production"])
    if mode == PRODUCTION:
        found = problems(service, env, parts=parts)
        if found:
            _refuse(f"skolit {service}: refusing to start in production (SKOLIT_ENV=production): {len(found)} problem(s)", found)


def _refuse(headline: str, lines: list[str]) -> None:
    print(headline, file=sys.stderr)
    for line in lines:
        print(f"  {line}", file=sys.stderr)
    sys.stderr.flush()
    raise SystemExit(EXIT_STATUS)
