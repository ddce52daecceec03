"""Contact details encrypted at rest: AES-256-GCM with a key from configuration, the person's id as
associated data (a ciphertext copied onto another person does not decrypt), and the key's id stored
beside each value so keys can be rotated: new writes use the first key, old rows stay readable while
their key is still configured.

``SKOLIT_NOTIFICATION_KEYS`` is ``id:base64key[,id:base64key...]`` (32-byte keys); the embedded default
and the tests fall back to a development key that must never reach production.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

DEV_KEYS = "dev1:" + base64.b64encode(b"skolit-notification-dev-key-32b!").decode()
NONCE_BYTES = 12


class KeyMissing(RuntimeError):
    """A stored value was written with a key that is no longer configured."""


@dataclass(frozen=True)
class Keyring:
    keys: dict[str, bytes]
    current: str

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            key_id, _, encoded = part.partition(":")
            key = base64.b64decode(encoded)
            if not key_id or len(key) != 32:
                raise ValueError(f"key {key_id!r}: expected id:base64 of 32 bytes")
            keys[key_id] = key
            order.append(key_id)
        if not order:
            raise ValueError("no keys configured")
        return cls(keys, order[0])

    @classmethod
    def from_env(cls) -> Keyring:
        return cls.parse(os.environ.get("SKOLIT_NOTIFICATION_KEYS") or DEV_KEYS)

    def encrypt(self, person: UUID, value: str | None) -> bytes | None:
        if value is None:
            return None
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(self.keys[self.current]).encrypt(nonce, value.encode(), person.bytes)

    def decrypt(self, key_id: str, person: UUID, blob: bytes | None) -> str | None:
        if blob is None:
            return None
        key = self.keys.get(key_id)
        if key is None:
            raise KeyMissing(f"contact details were written with key {key_id!r}, which is not configured")
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], person.bytes).decode()
