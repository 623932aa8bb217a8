"""The badge number as card bits: 26-bit Wiegand (H10301) and raw."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.domain.card_bits import (
    BadgeFormatError,
    CardBits,
    card_bits,
    raw_bits,
    wiegand26,
    wiegand26_fields,
)


def test_wiegand26_layout_bit_by_bit() -> None:
    bits = wiegand26(facility=1, card=1).bit_string()
    # P | 00000001 | 0000000000000001 | P
    assert bits[1:9] == "00000001"
    assert bits[9:25] == "0000000000000001"
    assert bits[1:13].count("1") == 1 and bits[0] == "1"  # 13 bits even
    assert bits[13:25].count("1") == 1 and bits[25] == "0"  # 13 bits odd
    assert wiegand26(1, 1) == CardBits(26, bytes([0b10000000, 0b10000000, 0b00000000, 0b10000000]))


@given(st.integers(0, 255), st.integers(0, 65535))
def test_wiegand26_parity_and_round_trip(facility: int, card: int) -> None:
    bits = wiegand26(facility, card)
    text = bits.bit_string()
    assert len(text) == 26 and len(bits.data) == 4
    assert text[:13].count("1") % 2 == 0
    assert text[13:].count("1") % 2 == 1
    assert wiegand26_fields(bits) == (facility, card)


def test_a_flipped_bit_fails_the_parity() -> None:
    good = wiegand26(12, 3456)
    flipped = CardBits(26, bytes([good.data[0] ^ 0x20]) + good.data[1:])
    with pytest.raises(BadgeFormatError, match="parity"):
        wiegand26_fields(flipped)


def test_raw_bits_msb_first() -> None:
    assert raw_bits(5, 3).bit_string() == "101"
    assert raw_bits(5, 3).data == bytes([0b10100000])
    assert card_bits("0042", "raw", length=16).data == (42).to_bytes(2, "big")


@pytest.mark.parametrize(
    ("badge", "fmt", "words"),
    [
        ("A-17", "wiegand26", "not a number"),
        ("70000", "wiegand26", "outside 0..65535"),
        ("300", "raw", "does not fit"),
        ("1", "abc", "card format"),
    ],
)
def test_badges_that_cannot_be_sent_say_why(badge: str, fmt: str, words: str) -> None:
    with pytest.raises(BadgeFormatError, match=words):
        card_bits(badge, fmt, length=8)
