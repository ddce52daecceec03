"""Signed links to the annual report: a browser opens the report from a link, without a bearer token pasted
anywhere. A district or city admin asks for a link (POST /annual-report/{year}/links); the link carries a token
that names the year, the scope (one district, or the whole city) and when it expires, signed with HMAC-SHA256
under the service's link key (settings.link_secret). Following it shows exactly that year and scope until then.

Token: ``base64url("v1:{year}:{district id or 'city'}:{expires, unix seconds}") "." base64url(HMAC-SHA256)``.
Nothing else is bound: ``?lang=`` may be changed by whoever holds the link (it changes only the words)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from uuid import UUID

VERSION = "v1"
CITY = "city"


class Malformed(ValueError):
    """Not a token this service makes."""


class Refused(Exception):
    """A well-formed token that does not open this report: wrong signature, expired, another year."""


@dataclass(frozen=True)
class Link:
    year: int
    district: UUID | None  # None: the whole city
    expires: int  # unix seconds


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()


def sign(key: bytes, link: Link) -> str:
    payload = f"{VERSION}:{link.year}:{link.district or CITY}:{link.expires}".encode()
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


def read(key: bytes, token: str, *, year: int, now: float) -> Link:
    """The link the token stands for, once its signature, year and lifetime are checked.
    Raises Malformed (not a token at all) or Refused (the reason is safe to show)."""
    head, dot, tail = token.partition(".")
    if not dot or not head or not tail or len(token) > 256:
        raise Malformed("not a signed link's token")
    try:
        payload, mac = _unb64(head), _unb64(tail)
        version, year_text, scope, expires_text = payload.decode("ascii").split(":")
        link = Link(int(year_text), None if scope == CITY else UUID(scope), int(expires_text))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Malformed("not a signed link's token") from exc
    if version != VERSION:
        raise Malformed(f"unknown link version {version!r}")
    if not hmac.compare_digest(mac, _mac(key, payload)):
        raise Refused("the link's signature does not match: it was changed, or made with another key")
    if link.year != year:
        raise Refused(f"the link is for the report of {link.year}, not {year}")
    if link.expires <= now:
        raise Refused("the link has expired; ask for a new one")
    return link
