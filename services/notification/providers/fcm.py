"""Push to the mobile apps through Firebase Cloud Messaging's HTTP v1 API.

``POST {url}/v1/projects/{project}/messages:send`` with ``{"message": {"token", "notification", "data"}}`` and an OAuth2
access token, which comes from the service account's key: a JWT (RS256, ``iss`` the account's e-mail, ``scope``
firebase.messaging, ``aud`` the token URI) exchanged at the token URI (RFC 7523 ``jwt-bearer`` grant) and reused
until shortly before it expires. An error names its kind in ``error.details[].errorCode`` (FcmError) or, failing
that, ``error.status``: UNREGISTERED and INVALID_ARGUMENT (the token is no app's any more, or never was) are final
and the device is dropped; QUOTA_EXCEEDED, UNAVAILABLE, INTERNAL, 429 and 5xx may work later.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from services.notification.channels import Outcome, Outgoing, Result

log = logging.getLogger(__name__)
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"

#: FCM's error code → (result, error recorded, device dropped)
ERRORS: dict[str, tuple[Result, str, bool]] = {
    "UNREGISTERED": ("permanent", "fcm-unregistered", True),
    "INVALID_ARGUMENT": ("permanent", "fcm-invalid-argument", True),
    "SENDER_ID_MISMATCH": ("permanent", "fcm-sender-id-mismatch", True),
    "NOT_FOUND": ("permanent", "fcm-unregistered", True),
    "THIRD_PARTY_AUTH_ERROR": ("temporary", "fcm-third-party-auth", False),
    "QUOTA_EXCEEDED": ("temporary", "fcm-quota-exceeded", False),
    "RESOURCE_EXHAUSTED": ("temporary", "fcm-quota-exceeded", False),
    "UNAVAILABLE": ("temporary", "fcm-unavailable", False),
    "INTERNAL": ("temporary", "fcm-internal", False),
}


def error_code(answer: Any) -> str | None:
    """The FcmError code of an error answer, else its google.rpc status."""
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):
        return None
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("errorCode"):
            return str(detail["errorCode"])
    return str(error["status"]) if error.get("status") else None


def result_of(status: int, answer: Any) -> tuple[Result, str | None, bool]:
    if 200 <= status < 300:
        return "accepted", None, False
    code = error_code(answer)
    if code in ERRORS:
        return ERRORS[code]
    if status == 429 or status >= 500:
        return "temporary", f"fcm-{status}", False
    return "permanent", f"fcm-{status}", False


@dataclass(frozen=True)
class ServiceAccount:
    project_id: str
    client_email: str
    private_key: str
    private_key_id: str | None
    token_uri: str

    @classmethod
    def load(cls, path: str) -> ServiceAccount:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return cls(data["project_id"], data["client_email"], data["private_key"], data.get("private_key_id"), data["token_uri"])

    def assertion(self, now: float) -> str:
        claims = {"iss": self.client_email, "scope": SCOPE, "aud": self.token_uri, "iat": int(now), "exp": int(now) + 3600}
        headers = {"kid": self.private_key_id} if self.private_key_id else None
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers=headers)


class TokenRefused(RuntimeError):
    """The token URI refused the service account's assertion (a revoked key, a wrong account): the city's to fix."""


class FcmSender:
    """Sends one push to one FCM registration token; used by the push channel (providers/push.py) per device."""

    def __init__(self, account: ServiceAccount, url: str, client: httpx.AsyncClient) -> None:
        self.account = account
        self.url = f"{url.rstrip('/')}/v1/projects/{account.project_id}/messages:send"
        self._client = client
        self._token: tuple[str, float] | None = None
        self._lock = asyncio.Lock()

    async def access_token(self, *, renew: bool = False) -> str:
        async with self._lock:
            now = time.time()
            if renew or self._token is None or self._token[1] - now < 60:
                response = await self._client.post(self.account.token_uri, data={"grant_type": GRANT, "assertion": self.account.assertion(now)})
                if response.status_code >= 400:
                    raise TokenRefused(f"the token URI answered {response.status_code}")
                answer = response.json()
                self._token = (str(answer["access_token"]), now + float(answer.get("expires_in", 3600)))
            return self._token[0]

    async def send(self, item: Outgoing, token: str, data: dict[str, str]) -> Outcome:
        message = {"message": {"token": token, "notification": {"title": item.subject, "body": item.body}, "data": data}}
        try:
            response = None
            for renew in (False, True):  # a 401: the access token was revoked early, so one more try with a new one
                bearer = await self.access_token(renew=renew)
                response = await self._client.post(self.url, json=message, headers={"Authorization": f"Bearer {bearer}"})
                if response.status_code != 401:
                    break
        except TokenRefused as exc:  # temporary: the message goes once the account is fixed
            log.warning("FCM access token for %s: %s", self.account.client_email, exc)
            return Outcome(item.reference, "temporary", error="fcm-token-refused")
        except (httpx.HTTPError, KeyError, ValueError) as exc:  # the token endpoint or FCM unreachable, or an answer without a token
            log.warning("FCM %s: %s", self.url, type(exc).__name__)
            return Outcome(item.reference, "temporary", error="fcm-unreachable")
        assert response is not None
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        result, error, _ = result_of(response.status_code, answer)
        name = answer.get("name") if isinstance(answer, dict) else None
        return Outcome(item.reference, result, gateway_ref=str(name) if name else None, error=error)
