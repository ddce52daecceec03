"""A .env for docker-compose.yml with fresh random secrets, for a trial of Skolit in production mode:

    python -m devkit.compose_env > .env            # then set the city's OpenID provider and SMTP relay in it
    python -m devkit.compose_env --issuer https://login.stad.se/oidc --smtp-host smtp.stad.se > .env
    python -m devkit.compose_env --ss12000-url https://ss12000.stad.se/v2 --ss12000-client-id skolit > .env
                                                   # then SKOLIT_SS12000_CLIENT_SECRET, from the city's SS 12000 API

The SS 12000 client's secret is the city's, issued with its client id: it is never made here, nor taken on the
command line (where the shell's history and the process list would keep it); .env gets an empty line to fill in.

docker-compose.yml commits no secret: each is ``${NAME:?...}``, and ``docker compose config`` stops at the first one
.env lacks. deploy/compose.env.example lists the same names with how to make each by hand; it is this module's
``--example`` output (tests/unit/test_production_rules.py keeps the two equal). A city in production keeps its secrets
in its own vault and passes them to compose the same way; the settings here are only placeholders to replace.
"""

from __future__ import annotations

import argparse
import base64
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass

from shared.production import DEV_PASSWORD_SUFFIX, MIN_PASSWORD_CHARS, MIN_SECRET_CHARS


def _random(nbytes: int) -> str:
    # URL-safe: a password also stands in DATABASE_URL; never ending as a development value does (shared/production.py)
    while True:
        value = secrets.token_urlsafe(nbytes)
        if not value.endswith(DEV_PASSWORD_SUFFIX):
            return value


def password() -> str:
    return _random(24)  # 32 characters, 192 bits


def token() -> str:
    return _random(32)  # 43 characters, 256 bits


def key32() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def keyring() -> str:
    return "k1:" + key32()


@dataclass(frozen=True)
class Secret:
    name: str
    make: Callable[[], str]
    #: what it is, for the example file
    what: str
    #: how a person makes one by hand
    how: str


PASSWORD_HOW = f"at least {MIN_PASSWORD_CHARS} URL-safe characters: python -c 'import secrets; print(secrets.token_urlsafe(24))'"
TOKEN_HOW = f"at least {MIN_SECRET_CHARS} characters: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
KEY_HOW = "base64 of 32 random bytes: python -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())'"

#: every secret docker-compose.yml asks .env for
SECRETS = (
    Secret("POSTGRES_PASSWORD", password, "PostgreSQL's superuser (the services and the connector provision their roles with it)",
           PASSWORD_HOW),
    *(Secret(f"SKOLIT_{s.upper()}_DB_PASSWORD", password, f"the database role skolit_{s}", PASSWORD_HOW)
      for s in ("assessment", "catalog", "reporting", "notification", "connector")),
    Secret("SKOLIT_KAFKA_ADMIN_PASSWORD", password, "Kafka's administrator (the broker itself, its healthcheck, kafka-users)", PASSWORD_HOW),
    *(Secret(f"SKOLIT_{s.upper()}_KAFKA_PASSWORD", password, f"the Kafka user skolit-{s} (SCRAM-SHA-512)", PASSWORD_HOW)
      for s in ("assessment", "catalog", "reporting", "notification")),
    Secret("SKOLIT_CITY_KAFKA_PASSWORD", password,
           "the Kafka user skolit-city (SCRAM-SHA-512): the connector publishes the city's events with it, as `skolit-city publish` does",
           PASSWORD_HOW),
    Secret("SKOLIT_KEYVAULT_MASTER_KEY", key32, "wraps every person's own key (decision 0009): losing it loses every sealed person id", KEY_HOW),
    Secret("SKOLIT_NOTIFICATION_KEYS", keyring, "encrypts contact details: id:key[,id:key...], new writes use the first",
           "k1: followed by " + KEY_HOW),
    Secret("SKOLIT_NOTIFICATION_CALLBACK_TOKEN", token, "the SMS and push gateways' bearer token for delivery reports", TOKEN_HOW),
    Secret("SKOLIT_NOTIFICATION_GATEWAY_TOKEN", token, "notification's bearer token to the SMS and push gateways (the gateways' own)", TOKEN_HOW),
    Secret("SKOLIT_REPORTING_LINK_SECRET", token, "signs links to the annual report", TOKEN_HOW),
    Secret("SKOLIT_WEB_SESSION_SECRET", token, "seals the web app's session cookies", TOKEN_HOW),
)


@dataclass(frozen=True)
class Setting:
    name: str
    #: the argument of this command that sets it; None: only by hand in .env (a secret of the city's)
    option: str | None
    placeholder: str
    what: str
    required: bool = True


#: the settings docker-compose.yml asks .env for (required) or takes a default for (optional)
SETTINGS = (
    Setting("SKOLIT_JWT_ISSUER", "--issuer", "https://login.example.invalid/oidc", "the city's OpenID provider (its tokens' iss)"),
    Setting("SKOLIT_JWT_JWKS_URL", "--jwks-url", "https://login.example.invalid/oidc/jwks", "its signing keys (JWKS)"),
    Setting("SKOLIT_JWT_AUDIENCE", "--audience", "skolit", "the audience of the access tokens it issues for Skolit's API"),
    Setting("SKOLIT_NOTIFICATION_SMTP_HOST", "--smtp-host", "smtp.example.invalid", "the city's SMTP relay"),
    Setting("SKOLIT_WEB_BASE_URL", "--base-url", "http://localhost:3000",
            "where people reach the web app: https, or http only on localhost (also the APIs' allowed origin)", required=False),
)

#: the SS 12000 connector's settings (connectors/ss12000/settings.py), all optional: without SKOLIT_SS12000_URL the
#: connector serves the imports only; with it, it refuses to start until SKOLIT_SS12000_CLIENT_SECRET is set too
CONNECTOR_SETTINGS = (
    Setting("SKOLIT_SS12000_URL", "--ss12000-url", "",
            "the city's SS 12000 API, e.g. https://ss12000.stad.se/v2",
            required=False),
    Setting("SKOLIT_SS12000_CLIENT_ID", "--ss12000-client-id", "", "the OAuth2 client the city's SS 12000 API issued to Skolit",
            required=False),
    Setting("SKOLIT_SS12000_CLIENT_SECRET", None, "",
            "that client's secret, from the city: set it here by hand", required=False),
    Setting("SKOLIT_SS12000_WEBHOOK_URL", "--ss12000-webhook-url", "",
            "where the city's API reaches the connector (http://<this host>:8105) to announce changes (empty: the periodic sync only)",
            required=False),
)


def env_file(values: dict[str, str]) -> str:
    lines = ["# Made by `python -m devkit.compose_env`: random secrets for docker-compose.yml (see deploy/compose.env.example).",
             "# Keep it private and out of version control; replace the placeholders of the settings at the end."]
    lines += [f"{s.name}={s.make()}" for s in SECRETS]
    lines += [f"{s.name}={values.get(s.name, s.placeholder)}" for s in (*SETTINGS, *CONNECTOR_SETTINGS)]
    return "\n".join(lines) + "\n"


def _setting_lines(setting: Setting) -> list[str]:
    default = f" (optional; default {setting.placeholder})" if not setting.required and setting.placeholder else ""
    return [f"# {setting.what}{default}", f"{setting.name}=" + ("" if setting.required else setting.placeholder), ""]


def example() -> str:
    """deploy/compose.env.example: every name, no value, how to make each."""
    lines = [
        "# The .env docker-compose.yml reads (copy to .env at the repository's root and fill in; or make one with random",
        "# secrets: python -m devkit.compose_env > .env). docker-compose.yml commits no secret: `docker compose config` stops",
        "# at the first name missing here. Every Skolit process runs with SKOLIT_ENV=production and refuses to start on a",
        "# development secret or a missing setting, naming each (shared/production.py). Generated by",
        "# `python -m devkit.compose_env --example`; tests/unit/test_production_rules.py keeps it current.",
        "",
        "# ---- secrets (required)",
    ]
    for s in SECRETS:
        lines += [f"# {s.what}", f"#   {s.how}", f"{s.name}=", ""]
    lines.append("# ---- settings")
    for setting in SETTINGS:
        lines += _setting_lines(setting)
    lines += ["# ---- the SS 12000 connector (connectors/ss12000/settings.py), optional: without SKOLIT_SS12000_URL it serves the",
              "# imports only; with it, it refuses to start until SKOLIT_SS12000_CLIENT_SECRET is set too", ""]
    for setting in CONNECTOR_SETTINGS:
        lines += _setting_lines(setting)
    lines += ["# optional: the SS 12000 API's token endpoint (default <SKOLIT_SS12000_URL>/token), entities per page (500) and",
              "# the periodic sync's interval in seconds beside the webhooks (900)",
              "# SKOLIT_SS12000_TOKEN_URL=", "# SKOLIT_SS12000_PAGE_SIZE=500", "# SKOLIT_SS12000_SYNC_SECONDS=900", ""]
    lines += ["# optional: the SMTP relay's login, port (587), STARTTLS (true) and sender; notification's callback URL",
              "# SKOLIT_NOTIFICATION_SMTP_USERNAME=", "# SKOLIT_NOTIFICATION_SMTP_PASSWORD=", "# SKOLIT_NOTIFICATION_SMTP_PORT=587",
              "# SKOLIT_NOTIFICATION_SMTP_STARTTLS=true", "# SKOLIT_NOTIFICATION_SMTP_SENDER=Skolit <noreply@skolit.local>",
              "# SKOLIT_NOTIFICATION_PUBLIC_URL=http://localhost:8104", "# SKOLIT_OIDC_ROLE_GROUPS=city_admin=skolit-stadsadmin,...",
              "# SKOLIT_LOG_LEVEL=INFO"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.compose_env", description=__doc__.split("\n\n")[0] if __doc__ else None)
    optional = [s for s in (*SETTINGS, *CONNECTOR_SETTINGS) if s.option is not None]
    for setting in optional:
        assert setting.option is not None
        parser.add_argument(setting.option, dest=setting.name, default=setting.placeholder,
                            help=f"{setting.what}" + (f" (default {setting.placeholder})" if setting.placeholder else ""))
    parser.add_argument("--example", action="store_true", help="print deploy/compose.env.example instead (names only, no values)")
    args = parser.parse_args(argv)
    sys.stdout.write(example() if args.example else env_file({s.name: getattr(args, s.name) for s in optional}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
