"""Configuration from the environment; the same variables in the embedded default, docker-compose and Kubernetes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit, quote

SERVICES = ("assessment", "catalog", "reporting", "notification")
#: the city's side: brings the city's school data (SS 12000) and figures in as city events (connectors/)
CONNECTOR = "connector"
DEFAULT_PORTS = {"assessment": 8101, "catalog": 8102, "reporting": 8103, "notification": 8104, CONNECTOR: 8105}
#: a `work` process's port is its service's port plus this, unless SKOLIT_<SERVICE>_WORK_PORT says otherwise
WORK_PORT_OFFSET = 100
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:15432/skolit"
DEFAULT_KAFKA = "127.0.0.1:19092"
# Only for the embedded default: production sets SKOLIT_JWT_JWKS_URL, never SKOLIT_JWT_SECRET (shared/production.py).
DEV_JWT_SECRET = "skolit-development-secret-not-for-production"
#: SKOLIT_ENV's values. development (the default: `make run`, the tests) takes the development secrets above and in the
#: services; production (docker-compose, deploy/k8s) refuses to start while any is in force (shared/production.py)
DEVELOPMENT, PRODUCTION = "development", "production"
ENVIRONMENTS = (DEVELOPMENT, PRODUCTION)


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def environment(env: Mapping[str, str] | None = None) -> str:
    """SKOLIT_ENV (of ``env``, the process's environment by default) in lower case, ``development`` when unset;
    shared/production.py refuses any value but the two."""
    value = os.environ.get("SKOLIT_ENV") if env is None else env.get("SKOLIT_ENV")
    return (value or DEVELOPMENT).strip().lower()


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


#: KAFKA_SECURITY_PROTOCOL's values (Kafka's own names)
KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
#: KAFKA_SASL_MECHANISM's values: username and password mechanisms
KAFKA_SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


@dataclass(frozen=True)
class KafkaSecurity:
    """How every Kafka client Skolit runs authenticates and encrypts (docs/decisions/0019-kafka-security.md): the services'
    publisher, consumers and admin client, the operator commands, the city CLI and the k8s init container.

    ``KAFKA_SECURITY_PROTOCOL`` PLAINTEXT (default) | SSL | SASL_PLAINTEXT | SASL_SSL; with SASL, ``KAFKA_SASL_MECHANISM``
    (SCRAM-SHA-512 by default, SCRAM-SHA-256 or PLAIN), ``KAFKA_SASL_USERNAME`` and ``KAFKA_SASL_PASSWORD`` (or
    ``KAFKA_SASL_PASSWORD_FILE``, a file holding it); with SSL, ``KAFKA_SSL_CAFILE`` (the CA that signed the brokers'
    certificates, PEM; the system's CAs if unset) and for mutual TLS ``KAFKA_SSL_CERTFILE`` + ``KAFKA_SSL_KEYFILE``."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None

    def __post_init__(self) -> None:
        if self.protocol not in KAFKA_PROTOCOLS:
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL: {self.protocol!r} is not one of {', '.join(KAFKA_PROTOCOLS)}")
        if self.sasl:
            if self.sasl_mechanism not in KAFKA_SASL_MECHANISMS:
                raise ValueError(f"KAFKA_SASL_MECHANISM: {self.sasl_mechanism!r} is not one of {', '.join(KAFKA_SASL_MECHANISMS)}")
            if not self.username or not self.password:
                raise ValueError(f"KAFKA_SECURITY_PROTOCOL={self.protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD "
                                 "(or KAFKA_SASL_PASSWORD_FILE)")
        if bool(self.certfile) != bool(self.keyfile):
            raise ValueError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together (a client certificate and its key)")

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @classmethod
    def from_env(cls) -> KafkaSecurity:
        protocol = (_env("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT") or "PLAINTEXT").upper()
        password = _env("KAFKA_SASL_PASSWORD")
        password_file = _env("KAFKA_SASL_PASSWORD_FILE")
        if password is None and password_file:
            password = Path(password_file).read_text(encoding="utf-8").strip()
        return cls(
            protocol=protocol,
            sasl_mechanism=(_env("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512") or "").upper() if protocol.startswith("SASL_") else None,
            username=_env("KAFKA_SASL_USERNAME"),
            password=password,
            cafile=_env("KAFKA_SSL_CAFILE"),
            certfile=_env("KAFKA_SSL_CERTFILE"),
            keyfile=_env("KAFKA_SSL_KEYFILE"),
        )

    def ssl_context(self) -> Any:
        """The TLS context of an SSL or SASL_SSL client: the brokers' CA (or the system's), the host name checked."""
        if not self.tls:
            return None
        from aiokafka.helpers import create_ssl_context

        return create_ssl_context(cafile=self.cafile, certfile=self.certfile, keyfile=self.keyfile)

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (AIOKafkaClient, -Producer, -Consumer, -AdminClient)."""
        if self.protocol == "PLAINTEXT":
            return {}
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls:
            kwargs["ssl_context"] = self.ssl_context()
        if self.sasl:
            kwargs.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.username, sasl_plain_password=self.password)
        return kwargs

    def faststream(self) -> Any:
        """The same for FastStream's KafkaBroker (its ``security=``): a faststream.security object, or None."""
        from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

        if self.protocol == "PLAINTEXT":
            return None
        context = self.ssl_context()
        if not self.sasl:
            return BaseSecurity(ssl_context=context, use_ssl=True)
        kind = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}[self.sasl_mechanism or ""]
        return kind(self.username or "", self.password or "", ssl_context=context, use_ssl=self.tls)

    def describe(self) -> str:
        """For logs: the protocol, mechanism and user, never the password."""
        return self.protocol + (f" {self.sasl_mechanism} as {self.username}" if self.sasl else "")


def kafka_security(security: KafkaSecurity | None = None) -> KafkaSecurity:
    """``security``, or the one the environment describes."""
    return security if security is not None else KafkaSecurity.from_env()


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
    #: TLS and SASL of every Kafka client the service runs (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*)
    kafka_security: KafkaSecurity = KafkaSecurity()
    #: where the service's background workers (notification's senders and planner) run: ``here`` in every `serve`
    #: process (the default: `make run`, one container), or ``elsewhere``, in processes of their own started with
    #: `work` (SKOLIT_<SERVICE>_WORKERS), so that a burst of sending never takes the API's pool and event loop
    workers_here: bool = True
    #: the `work` process's own HTTP port, for /healthz, /readyz and /metrics only (SKOLIT_<SERVICE>_WORK_PORT)
    work_port: int = 0

    @property
    def schema(self) -> str:
        return self.service

    @property
    def consumer_group(self) -> str:
        return f"skolit-{self.service}"

    @classmethod
    def from_env(cls, service: str) -> Settings:
        if service not in SERVICES and service != CONNECTOR:
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
            kafka_security=KafkaSecurity.from_env(),
            workers_here=workers_here(_env(f"SKOLIT_{up}_WORKERS", "here") or "here", f"SKOLIT_{up}_WORKERS"),
            work_port=int(_env(f"SKOLIT_{up}_WORK_PORT", str(DEFAULT_PORTS[service] + WORK_PORT_OFFSET)) or 0),
        )


def workers_here(value: str, name: str) -> bool:
    """``here`` or ``elsewhere`` (any case); anything else is a configuration error, not a silent default."""
    if value.strip().lower() not in ("here", "elsewhere"):
        raise ValueError(f"{name} is {value!r}: say here (the serve processes run the workers) or elsewhere (`work` processes do)")
    return value.strip().lower() == "here"


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
