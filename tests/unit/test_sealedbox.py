"""Sealed boxes (shared/privacy/sealedbox.py): what the access export's parts travel in."""

from __future__ import annotations

import pytest

from shared.privacy import sealedbox
from shared.privacy.sealedbox import SealedBoxError

TEXT = b'{"contacts": {"email": "anna.andersson@example.se"}}'


def test_round_trip_and_no_plaintext_in_the_box() -> None:
    private, public = sealedbox.keypair()
    assert len(private) == len(public) == 32 and sealedbox.public_key(private) == public
    box = sealedbox.seal(public, TEXT, b"request:assessment")
    assert b"anna" not in box and b"example.se" not in box
    assert sealedbox.open_box(private, box, b"request:assessment") == TEXT
    assert sealedbox.open_box(private, sealedbox.seal(public, b"")) == b""


def test_sealing_twice_gives_different_boxes() -> None:
    _, public = sealedbox.keypair()
    first, second = sealedbox.seal(public, TEXT), sealedbox.seal(public, TEXT)
    assert first != second and first[:32] != second[:32]  # a fresh ephemeral key each time


def test_the_wrong_key_does_not_open() -> None:
    _, public = sealedbox.keypair()
    other, _ = sealedbox.keypair()
    with pytest.raises(SealedBoxError):
        sealedbox.open_box(other, sealedbox.seal(public, TEXT))


@pytest.mark.parametrize("where", [0, 31, 32, 43, 44, -1])  # ephemeral key, nonce, ciphertext, tag
def test_a_changed_byte_does_not_open(where: int) -> None:
    private, public = sealedbox.keypair()
    box = bytearray(sealedbox.seal(public, TEXT))
    box[where] ^= 0x01
    with pytest.raises(SealedBoxError):
        sealedbox.open_box(private, bytes(box))


def test_other_associated_data_does_not_open() -> None:
    private, public = sealedbox.keypair()
    box = sealedbox.seal(public, TEXT, b"request-1:catalog")
    for wrong in (b"request-1:assessment", b"request-2:catalog", b""):
        with pytest.raises(SealedBoxError):
            sealedbox.open_box(private, box, wrong)


def test_truncated_or_garbage_is_refused() -> None:
    private, public = sealedbox.keypair()
    box = sealedbox.seal(public, TEXT)
    for bad in (b"", box[:40], box[:-1], b"\x00" * 32 + box[32:]):
        with pytest.raises(SealedBoxError):
            sealedbox.open_box(private, bad)
    with pytest.raises(ValueError):
        sealedbox.seal(b"short", TEXT)
