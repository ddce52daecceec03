"""Web Push for the web app's subscriptions: RFC 8030 (the push service's HTTP API), RFC 8291 (the payload encrypted
for the browser with the aes128gcm content coding of RFC 8188) and RFC 8292 (VAPID: the application server signs an
ES256 JWT for the push service's origin).

A subscription is what the browser's PushManager.subscribe() gives: an endpoint URL and two keys, ``p256dh`` (the
browser's P-256 public key) and ``auth`` (a 16-byte secret). Skolit keeps it as the device's token (encrypted like
any token), as compact JSON, so one device row serves a phone app's FCM token and a browser's subscription alike.

The push service answers 201 when it took the message (accepted: the service worker's receipt makes it delivered),
404 or 410 when the subscription is gone (the device is dropped), 429 and 5xx when it may work later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

#: one record holds the whole message (RFC 8291 §4: a push message is one record of at most 4096 octets)
RECORD_SIZE = 4096
#: what fits in that record: the size, less the 86-octet header, the 16-octet tag and the delimiter
MAX_PLAINTEXT = RECORD_SIZE - 86 - 16 - 1
#: how long a VAPID token is reused for an origin (RFC 8292 §2: at most 24 hours)
VAPID_SECONDS = 12 * 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Subscription:
    endpoint: str
    p256dh: bytes
    auth: bytes

    def token(self) -> str:
        """The stored form: compact JSON with sorted keys, so the same subscription registered twice is the same token."""
        return json.dumps({"endpoint": self.endpoint, "keys": {"auth": b64url(self.auth), "p256dh": b64url(self.p256dh)}},
                          separators=(",", ":"), sort_keys=True)


def parse_subscription(token: str) -> Subscription | None:
    """A device token that is a Web Push subscription, else None (an FCM or gateway token)."""
    if not token.startswith("{"):
        return None
    try:
        data = json.loads(token)
        keys = data["keys"]
        sub = Subscription(str(data["endpoint"]), unb64url(keys["p256dh"]), unb64url(keys["auth"]))
    except (ValueError, KeyError, TypeError):
        return None
    return sub if len(sub.p256dh) == 65 and sub.p256dh[0] == 4 and len(sub.auth) == 16 else None


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def _public_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _keys(ecdh_secret: bytes, auth: bytes, ua_public: bytes, as_public: bytes, salt: bytes) -> tuple[bytes, bytes]:
    """RFC 8291 §3.4 then RFC 8188 §2.2: the content-encryption key and the nonce (HKDF-SHA-256, each output one block)."""
    prk_key = _hmac(auth, ecdh_secret)
    ikm = _hmac(prk_key, b"WebPush: info\x00" + ua_public + as_public + b"\x01")
    prk = _hmac(salt, ikm)
    cek = _hmac(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]
    nonce = _hmac(prk, b"Content-Encoding: nonce\x00\x01")[:12]
    return cek, nonce


def encrypt(plaintext: bytes, ua_public: bytes, auth: bytes, *, as_private: ec.EllipticCurvePrivateKey | None = None,
            salt: bytes | None = None) -> bytes:
    """The aes128gcm body for one subscription: a fresh key pair and salt per message (given only by the test vector)."""
    if len(plaintext) > MAX_PLAINTEXT:
        raise ValueError(f"a push message holds at most {MAX_PLAINTEXT} octets")
    as_private = as_private or ec.generate_private_key(ec.SECP256R1())
    salt = salt or os.urandom(16)
    as_public = _public_bytes(as_private.public_key())
    ecdh_secret = as_private.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ua_public))
    cek, nonce = _keys(ecdh_secret, auth, ua_public, as_public, salt)
    ciphertext = AESGCM(cek).encrypt(nonce, plaintext + b"\x02", None)  # \x02: the last (and only) record, no padding
    return salt + struct.pack("!IB", RECORD_SIZE, len(as_public)) + as_public + ciphertext


def decrypt(body: bytes, ua_private: ec.EllipticCurvePrivateKey, auth: bytes) -> bytes:
    """The browser's half (the sink plays the browser): ValueError when the body is not what encrypt() makes."""
    if len(body) < 21:
        raise ValueError("too short for an aes128gcm header")
    salt, (_rs, idlen) = body[:16], struct.unpack("!IB", body[16:21])
    as_public, ciphertext = body[21:21 + idlen], body[21 + idlen:]
    ua_public = _public_bytes(ua_private.public_key())
    try:
        ecdh_secret = ua_private.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), as_public))
        cek, nonce = _keys(ecdh_secret, auth, ua_public, as_public, salt)
        padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
    except Exception as exc:  # a wrong key, a changed byte: InvalidTag, ValueError
        raise ValueError(f"cannot decrypt: {type(exc).__name__}") from exc
    end = padded.rstrip(b"\x00")
    if not end.endswith(b"\x02"):
        raise ValueError("no last-record delimiter")
    return end[:-1]


# --- VAPID (RFC 8292) --------------------------------------------------------------------------------


def load_vapid_key(value: str) -> ec.EllipticCurvePrivateKey:
    """A PEM (PKCS#8 or SEC1), or the path of a file holding one."""
    text = value if "-----BEGIN" in value else open(value, encoding="utf-8").read()  # noqa: SIM115 - read once at start
    key = serialization.load_pem_private_key(text.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("the VAPID key must be a P-256 private key")
    return key


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """The applicationServerKey the web app subscribes with (and ``k`` of the Authorization header)."""
    return b64url(_public_bytes(key.public_key()))


def origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


class Vapid:
    """Signs ``vapid t=<JWT>, k=<public key>`` per push service origin, reusing a token until close to its expiry."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, subject: str) -> None:
        self.key, self.subject = key, subject
        self.public = public_key_b64(key)
        self._tokens: dict[str, tuple[str, float]] = {}

    def authorization(self, endpoint: str, now: float | None = None) -> str:
        now = time.time() if now is None else now
        aud = origin(endpoint)
        cached = self._tokens.get(aud)
        if cached is None or cached[1] - now < 600:
            exp = int(now) + VAPID_SECONDS
            claims: dict[str, Any] = {"aud": aud, "exp": exp, "sub": self.subject}
            cached = (jwt.encode(claims, self.key, algorithm="ES256"), exp)
            self._tokens[aud] = cached
        return f"vapid t={cached[0]}, k={self.public}"


def verify_vapid(header: str, endpoint: str, now: float | None = None) -> dict[str, Any]:
    """The push service's check (the sink's): the token signed by ``k``, for this origin, not expired, with a subject."""
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != "vapid":
        raise ValueError("not a vapid authorization")
    fields = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
    token, k = fields.get("t"), fields.get("k")
    if not token or not k:
        raise ValueError("t and k are required")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(k))
    claims: dict[str, Any] = jwt.decode(token, public, algorithms=["ES256"], audience=origin(endpoint),
                                        options={"require": ["exp", "aud", "sub"]})
    if claims["exp"] > (time.time() if now is None else now) + 24 * 3600:
        raise ValueError("exp more than 24 hours ahead")
    return claims


#: a push service's answer → (result, error code, whether the subscription is gone and the device dropped)
STATUS = {201: ("accepted", None, False), 202: ("accepted", None, False), 200: ("accepted", None, False),
          404: ("permanent", "subscription-gone", True), 410: ("permanent", "subscription-gone", True),
          413: ("permanent", "payload-too-large", False), 429: ("temporary", "http-429", False)}


def result_of(status: int) -> tuple[str, str | None, bool]:
    if status in STATUS:
        return STATUS[status]
    if status >= 500:
        return "temporary", f"http-{status}", False
    if 200 <= status < 300:
        return "accepted", None, False
    return "permanent", f"http-{status}", False
