"""Configuration from the environment; the same variables in the embedded default, docker-compose and Kubernetes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit, quote

SERVICES = ("assessment", "catalog", "reporting", "notification")
DEFAULT_PORTS = {"assessment": 8101, "catalog": 8102, "reporting": 8103, "notification": 8104}
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:15432/skolit"
DEFAULT_KAFKA = "127.0.0.1:19092"
# Only for the embedded default: production sets SKOLIT_JWT_SECRET or SKOLIT_JWT_JWKS_URL.
DEV_JWT_SECRET = "skolit-development-secret-not-for-production"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def role_name(service: str) -> str:
    return f"skolit_{service}"


def default_db_password(service: str) -> str:
    return _env(f"SKOLIT_{service.upper()}_DB_PASSWORD", f"skolit-{service}-dev") or ""


def service_database_url(service: str, admin_url: str | None = None) -> str:
    """The service's own login: ``SKOLIT_<SERVICE>_DATABASE_URL``, or DATABASE_URL with the service's role."""
    explicit = _env(f"SKOLIT_{service.upper()}_DATABASE_URL")
    if explicit:
        return explicit
    base = urlsplit(admin_url or _env("DATABASE_URL", DEFAULT_DATABASE_URL) or DEFAULT_DATABASE_URL)
    host = base.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(role_name(service))}:{quote(default_db_password(service), safe='')}@{host}"
    if base.port:
        netloc += f":{base.port}"
    return urlunsplit((base.scheme, netloc, base.path, base.query, base.fragment))


@dataclass(frozen=True)
class Settings:
    service: str
    database_url: str
    kafka_bootstrap_servers: str
    http_host: str
    http_port: int
    jwt_secret: str | None
    jwt_jwks_url: str | None
    jwt_issuer: str | None
    jwt_audience: str | None
    outbox_batch_size: int
    outbox_poll_seconds: float
    consumer_max_records: int
    log_level: str
    #: lets POST /jobs/{name}/run take an ``asOf`` date: for tests and the demo, never production
    allow_clock_override: bool = False
    #: replicas of a topic this service creates when it is missing at start (1 for one broker; 3 in a cluster)
    topic_replication_factor: int = 1
    #: readiness says "degraded" when the outbox relay has published nothing for this long while rows wait
    outbox_stall_seconds: float = 120.0
    #: browser origins allowed to call the API (SKOLIT_CORS_ORIGINS, comma-separated); none unless configured
    cors_origins: tuple[str, ...] = ()
    #: the claim of an identity provider's token that holds the SS 12000 person id (SKOLIT_OIDC_PERSON_CLAIM)
    oidc_person_claim: str = "sub"
    #: the claim that lists the person's IdP groups (SKOLIT_OIDC_GROUPS_CLAIM)
    oidc_groups_claim: str = "groups"
    #: (role, IdP group) pairs that give the administrative roles, from SKOLIT_OIDC_ROLE_GROUPS
    #: ("city_admin=skolit-stadsadmin,it_admin=skolit-it"); every other role comes from the city's data
    oidc_role_groups: tuple[tuple[str, str], ...] = ()
    #: how long a provider token's roles, derived from the city's data, are reused for the same person
    oidc_authority_cache_seconds: float = 30.0

    @property
    def schema(self) -> str:
        return self.service

    @property
    def consumer_group(self) -> str:
        return f"skolit-{self.service}"

    @classmethod
    def from_env(cls, service: str) -> Settings:
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}")
        up = service.upper()
        jwks = _env("SKOLIT_JWT_JWKS_URL")
        return cls(
            service=service,
            database_url=service_database_url(service),
            kafka_bootstrap_servers=_env("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA) or DEFAULT_KAFKA,
            http_host=_env(f"SKOLIT_{up}_HOST", _env("SKOLIT_HTTP_HOST", "127.0.0.1")) or "127.0.0.1",
            http_port=int(_env(f"SKOLIT_{up}_PORT", str(DEFAULT_PORTS[service])) or DEFAULT_PORTS[service]),
            jwt_secret=_env("SKOLIT_JWT_SECRET", None if jwks else DEV_JWT_SECRET),
            jwt_jwks_url=jwks,
            jwt_issuer=_env("SKOLIT_JWT_ISSUER"),
            jwt_audience=_env("SKOLIT_JWT_AUDIENCE"),
            outbox_batch_size=int(_env("SKOLIT_OUTBOX_BATCH_SIZE", "500") or 500),
            outbox_poll_seconds=float(_env("SKOLIT_OUTBOX_POLL_SECONDS", "1.0") or 1.0),
            consumer_max_records=int(_env("SKOLIT_CONSUMER_MAX_RECORDS", "500") or 500),
            log_level=_env("SKOLIT_LOG_LEVEL", "INFO") or "INFO",
            allow_clock_override=(_env("SKOLIT_ALLOW_CLOCK_OVERRIDE", "") or "").lower() in ("1", "true", "yes"),
            topic_replication_factor=int(_env("SKOLIT_TOPIC_REPLICATION_FACTOR", "1") or 1),
            outbox_stall_seconds=float(_env("SKOLIT_OUTBOX_STALL_SECONDS", "120") or 120),
            cors_origins=tuple(o.strip().rstrip("/") for o in (_env("SKOLIT_CORS_ORIGINS", "") or "").split(",") if o.strip()),
            oidc_person_claim=_env("SKOLIT_OIDC_PERSON_CLAIM", "sub") or "sub",
            oidc_groups_claim=_env("SKOLIT_OIDC_GROUPS_CLAIM", "groups") or "groups",
            oidc_role_groups=role_groups(_env("SKOLIT_OIDC_ROLE_GROUPS", "") or ""),
            oidc_authority_cache_seconds=float(_env("SKOLIT_OIDC_AUTHORITY_CACHE_SECONDS", "30") or 30),
        )


def role_groups(value: str) -> tuple[tuple[str, str], ...]:
    """``"city_admin=skolit-stadsadmin,it_admin=skolit-it"`` → (("city_admin", "skolit-stadsadmin"), ("it_admin", "skolit-it")).
    A role may be named more than once (several groups give it); a malformed pair is a configuration error."""
    pairs = []
    for item in value.split(","):
        if not item.strip():
            continue
        role, sep, group = item.partition("=")
        if not sep or not role.strip() or not group.strip():
            raise ValueError(f"SKOLIT_OIDC_ROLE_GROUPS: expected role=group, got {item.strip()!r}")
        pairs.append((role.strip(), group.strip()))
    return tuple(pairs)
