"""Contact details' encryption: keys from configuration, bound to the person, rotatable."""

from __future__ import annotations

import base64
import uuid

import pytest
from cryptography.exceptions import InvalidTag

from services.notification.crypto import DEV_KEYS, Keyring, KeyMissing


def key(seed: bytes) -> str:
    return base64.b64encode(seed.ljust(32, b"k")).decode()


def test_round_trip_and_no_plaintext() -> None:
    keys, person = Keyring.parse(DEV_KEYS), uuid.uuid4()
    blob = keys.encrypt(person, "anna@example.se")
    assert blob is not None and b"anna" not in blob and keys.decrypt(keys.current, person, blob) == "anna@example.se"
    assert keys.encrypt(person, None) is None and keys.decrypt(keys.current, person, None) is None


def test_same_value_encrypts_differently_each_time() -> None:
    keys, person = Keyring.parse(DEV_KEYS), uuid.uuid4()
    assert keys.encrypt(person, "x") != keys.encrypt(person, "x")


def test_a_ciphertext_moved_to_another_person_does_not_decrypt() -> None:
    keys = Keyring.parse(DEV_KEYS)
    blob = keys.encrypt(uuid.uuid4(), "+46701234567")
    with pytest.raises(InvalidTag):
        keys.decrypt(keys.current, uuid.uuid4(), blob)


def test_rotation_writes_with_the_first_key_and_reads_with_any_configured() -> None:
    person = uuid.uuid4()
    old = Keyring.parse(f"k1:{key(b'one')}")
    blob = old.encrypt(person, "a@b.se")
    rotated = Keyring.parse(f"k2:{key(b'two')},k1:{key(b'one')}")
    assert rotated.current == "k2" and rotated.decrypt("k1", person, blob) == "a@b.se"
    with pytest.raises(KeyMissing):
        Keyring.parse(f"k2:{key(b'two')}").decrypt("k1", person, blob)


@pytest.mark.parametrize("spec", ["", "k1", "k1:" + base64.b64encode(b"short").decode(), ":" + key(b"x")])
def test_bad_key_configuration_is_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        Keyring.parse(spec)
