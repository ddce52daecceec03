"""The notification service's configuration (shared variables, see shared/settings.py, plus its own:
where the channels go, how hard to push them, when to remind)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from services.notification.crypto import Keyring
from shared.settings import Settings

SERVICE = "notification"
#: the CloudEvents source of what notification publishes
SOURCE = f"skolit.{SERVICE}"
# Only for the embedded default and the tests: production sets SKOLIT_NOTIFICATION_CALLBACK_TOKEN.
DEV_CALLBACK_TOKEN = "skolit-gateway-callbacks-dev"


def load() -> Settings:
    return Settings.from_env(SERVICE)


def _get(name: str, default: str) -> str:
    return os.environ.get(f"SKOLIT_NOTIFICATION_{name}") or default


def _rates(text: str) -> dict[str, float]:
    """``email=200,sms=20`` → per-channel messages per second."""
    pairs = (part.split("=", 1) for part in text.split(",") if part.strip())
    return {name.strip(): float(value) for name, value in pairs}


@dataclass(frozen=True)
class NotificationSettings:
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_sender: str = "Skolit <noreply@skolit.local>"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    #: how many SMTP connections send side by side
    smtp_connections: int = 8
    sms_url: str = "http://127.0.0.1:8026/sms"
    push_url: str = "http://127.0.0.1:8026/push"
    #: sent as a bearer token to the SMS and push gateways
    gateway_token: str | None = None
    #: gateways call back with this bearer token
    callback_token: str = DEV_CALLBACK_TOKEN
    #: the web client, for deep links in messages
    web_url: str = "http://localhost:3000"
    #: how gateways reach this service for callbacks (the URL goes with each request)
    public_url: str = "http://127.0.0.1:8104"
    #: when a channel fails for good, the next of these the recipient can be reached on is tried
    fallback: tuple[str, ...] = ("push", "sms", "email")
    #: messages per second per channel and replica
    rates: dict[str, float] = field(default_factory=lambda: {"email": 400.0, "sms": 50.0, "push": 1000.0})
    max_attempts: int = 5
    #: a temporary failure waits backoff × 2^(attempt-1), at most backoff_max
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    #: how long a sender may hold a claimed delivery before another takes it over
    lease_seconds: float = 120.0
    poll_seconds: float = 0.25
    batch_size: int = 500
    #: concurrent sending loops per channel (``SKOLIT_NOTIFICATION_SENDER_LOOPS=email=3,sms=2``): while one claims or
    #: records, the others keep the channel's connections busy. One by default: with e-mail 3, SMS and push 2 the
    #: whole-city message was not delivered sooner on two cores (the machine, not the sender, was the limit) and the
    #: loops' pool connections were missing for the inbox reads during the read storm (issue-24 status page, §1–2).
    sender_loops: dict[str, int] = field(default_factory=lambda: {"email": 1, "sms": 1, "push": 1})
    http_concurrency: int = 64
    #: a broadcast plans this many recipients' deliveries before POST /broadcasts answers; the rest are planned after it,
    #: by the planner (usecases/planning.py), ``plan_chunk_recipients`` a transaction — so the answer does not wait for a
    #: whole city's delivery rows, and the senders start on the first chunk
    plan_inline_recipients: int = 2000
    plan_chunk_recipients: int = 5000
    #: reminders to the Rektor this many days before a self-assessment deadline
    reminder_days: tuple[int, ...] = (14, 3, 1)
    job_interval_seconds: float = 3600.0
    #: SMS through the HTTP gateway (``gateway``) or 46elks (``46elks``, providers/elks.py)
    sms_provider: str = "gateway"
    elks_url: str = "https://api.46elks.com"
    elks_username: str | None = None
    elks_password: str | None = None
    #: the sender shown on the phone: a number or up to 11 letters and digits
    elks_from: str = "Skolit"
    #: Web Push (providers/webpush.py): the VAPID private key (PEM, or a file holding it) and the contact it names
    vapid_private_key: str | None = None
    vapid_subject: str = "mailto:noreply@skolit.local"
    #: subscriptions' endpoints over plain http are refused unless this is set (the local sinks, tests)
    webpush_allow_http: bool = False
    #: FCM HTTP v1 (providers/fcm.py): the service account's JSON key file; the API's base URL (the sink's in tests)
    fcm_service_account_file: str | None = None
    fcm_url: str = "https://fcm.googleapis.com"
    #: the bearer token of the bounce webhook (POST /providers/email/bounces); unset: the gateways' callback token
    bounce_token: str | None = None
    #: the envelope sender bounces go back to, as VERP: ``bounces@example.se`` sends as ``bounces+<reference>@example.se``
    smtp_bounce_address: str | None = None

    @classmethod
    def from_env(cls) -> NotificationSettings:
        d = cls()
        return cls(
            smtp_host=_get("SMTP_HOST", d.smtp_host),
            smtp_port=int(_get("SMTP_PORT", str(d.smtp_port))),
            smtp_sender=_get("SMTP_SENDER", d.smtp_sender),
            smtp_username=os.environ.get("SKOLIT_NOTIFICATION_SMTP_USERNAME") or None,
            smtp_password=os.environ.get("SKOLIT_NOTIFICATION_SMTP_PASSWORD") or None,
            smtp_starttls=_get("SMTP_STARTTLS", "false").lower() in ("1", "true", "yes"),
            smtp_connections=int(_get("SMTP_CONNECTIONS", str(d.smtp_connections))),
            sms_url=_get("SMS_URL", d.sms_url),
            push_url=_get("PUSH_URL", d.push_url),
            gateway_token=os.environ.get("SKOLIT_NOTIFICATION_GATEWAY_TOKEN") or None,
            callback_token=_get("CALLBACK_TOKEN", d.callback_token),
            web_url=_get("WEB_URL", d.web_url),
            public_url=_get("PUBLIC_URL", f"http://127.0.0.1:{os.environ.get('SKOLIT_NOTIFICATION_PORT', '8104')}"),
            fallback=tuple(c.strip() for c in _get("FALLBACK", ",".join(d.fallback)).split(",") if c.strip()),
            rates={**d.rates, **_rates(_get("RATES", ""))},
            max_attempts=int(_get("MAX_ATTEMPTS", str(d.max_attempts))),
            backoff_seconds=float(_get("BACKOFF_SECONDS", str(d.backoff_seconds))),
            backoff_max_seconds=float(_get("BACKOFF_MAX_SECONDS", str(d.backoff_max_seconds))),
            lease_seconds=float(_get("LEASE_SECONDS", str(d.lease_seconds))),
            poll_seconds=float(_get("POLL_SECONDS", str(d.poll_seconds))),
            batch_size=int(_get("BATCH_SIZE", str(d.batch_size))),
            sender_loops={**d.sender_loops, **{k: int(v) for k, v in _rates(_get("SENDER_LOOPS", "")).items()}},
            http_concurrency=int(_get("HTTP_CONCURRENCY", str(d.http_concurrency))),
            plan_inline_recipients=int(_get("PLAN_INLINE_RECIPIENTS", str(d.plan_inline_recipients))),
            plan_chunk_recipients=int(_get("PLAN_CHUNK_RECIPIENTS", str(d.plan_chunk_recipients))),
            reminder_days=tuple(sorted({int(x) for x in _get("REMINDER_DAYS", ",".join(map(str, d.reminder_days))).split(",") if x.strip()}, reverse=True)),
            job_interval_seconds=float(_get("JOB_INTERVAL_SECONDS", str(d.job_interval_seconds))),
            sms_provider=_get("SMS_PROVIDER", d.sms_provider).strip().lower(),
            elks_url=_get("46ELKS_URL", d.elks_url),
            elks_username=os.environ.get("SKOLIT_NOTIFICATION_46ELKS_USERNAME") or None,
            elks_password=os.environ.get("SKOLIT_NOTIFICATION_46ELKS_PASSWORD") or None,
            elks_from=_get("46ELKS_FROM", d.elks_from),
            vapid_private_key=os.environ.get("SKOLIT_NOTIFICATION_WEBPUSH_VAPID_PRIVATE_KEY") or None,
            vapid_subject=_get("WEBPUSH_VAPID_SUBJECT", d.vapid_subject),
            webpush_allow_http=_get("WEBPUSH_ALLOW_HTTP", "false").lower() in ("1", "true", "yes"),
            fcm_service_account_file=os.environ.get("SKOLIT_NOTIFICATION_FCM_SERVICE_ACCOUNT_FILE") or None,
            fcm_url=_get("FCM_URL", d.fcm_url),
            bounce_token=os.environ.get("SKOLIT_NOTIFICATION_BOUNCE_TOKEN") or None,
            smtp_bounce_address=os.environ.get("SKOLIT_NOTIFICATION_SMTP_BOUNCE_ADDRESS") or None,
        )


SMS_PROVIDERS = ("gateway", "46elks")

NOTIFICATION = NotificationSettings.from_env()
if NOTIFICATION.sms_provider not in SMS_PROVIDERS:
    raise ValueError(f"SKOLIT_NOTIFICATION_SMS_PROVIDER={NOTIFICATION.sms_provider!r}: one of {', '.join(SMS_PROVIDERS)}")
#: the keyring contact details and exports are encrypted with (services/notification/crypto.py)
KEYS = Keyring.from_env()
