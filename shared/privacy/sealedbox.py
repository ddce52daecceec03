"""Sealed boxes: encrypt for a public key, so that only the holder of the private key can read.

ECIES over X25519: the sender makes an ephemeral key pair, agrees a shared secret with the recipient's
public key, derives a 256-bit key with HKDF-SHA256 (both public keys in the salt, so the key is bound to
this sender and this recipient) and encrypts with AES-256-GCM. The box is::

    ephemeral public key (32 bytes) || nonce (12 bytes) || ciphertext and tag

``associated`` data is authenticated, not encrypted: the access export (docs/decisions/0010) binds each
service's part to its request and service, so a part cannot be passed off as another request's or
another service's. Anyone may seal; only the private key opens; a changed byte fails to open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
INFO = b"skolit-sealedbox-v1"
_RAW = serialization.Encoding.Raw


class SealedBoxError(ValueError):
    """The box does not open: the wrong key, a changed byte, other associated data, or not a box at all."""


def keypair() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair as raw bytes: (private key, public key), 32 bytes each."""
    private = X25519PrivateKey.generate()
    return (private.private_bytes(_RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption()),
            private.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw))


def public_key(private_key: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)


def _key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=INFO).derive(shared)


def seal(recipient_public_key: bytes, plaintext: bytes, associated: bytes = b"") -> bytes:
    """``plaintext`` sealed for the holder of the private key that belongs to ``recipient_public_key``."""
    if len(recipient_public_key) != KEY_BYTES:
        raise ValueError("an X25519 public key is 32 bytes")
    recipient = X25519PublicKey.from_public_bytes(recipient_public_key)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    key = _key(ephemeral.exchange(recipient), ephemeral_public, recipient_public_key)
    nonce = os.urandom(NONCE_BYTES)
    return ephemeral_public + nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def open_box(private_key: bytes, box: bytes, associated: bytes = b"") -> bytes:
    """The plaintext of a box sealed for ``private_key``'s public key; raises SealedBoxError otherwise."""
    if len(private_key) != KEY_BYTES:
        raise ValueError("an X25519 private key is 32 bytes")
    if len(box) < KEY_BYTES + NONCE_BYTES + TAG_BYTES:
        raise SealedBoxError("too short to be a sealed box")
    ephemeral_public, nonce, ciphertext = box[:KEY_BYTES], box[KEY_BYTES:KEY_BYTES + NONCE_BYTES], box[KEY_BYTES + NONCE_BYTES:]
    private = X25519PrivateKey.from_private_bytes(private_key)
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    except ValueError as exc:  # an all-zero shared secret: a low-order point, not a real sender's key
        raise SealedBoxError("the box's ephemeral key is not usable") from exc
    key = _key(shared, ephemeral_public, public_key(private_key))
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, associated)
    except InvalidTag as exc:
        raise SealedBoxError("the box does not open with this key (wrong key, changed, or other associated data)") from exc
