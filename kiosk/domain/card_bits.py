"""A badge number as the bits a card reader sends to an access panel.

Two formats (``[door] osdp_format``):

- ``wiegand26``: the H10301 layout every panel knows: an even parity bit over the next 12
  bits, an 8-bit facility code, a 16-bit card number, an odd parity bit over the 12 bits
  before it. The badge must be a number 0..65535 and the facility 0..255.
- ``raw``: the badge number alone, ``bits`` long, most significant bit first (for panels
  set up with a site-specific layout).

The bits are packed most significant bit first into whole bytes, the last byte padded
with zero bits on the right, as OSDP's raw card data carries them (osdp_RAW: the bit
count, then the bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

CARD_FORMATS = ("wiegand26", "raw")


class BadgeFormatError(ValueError):
    """The badge cannot be written in the configured format (one line, for staff)."""


@dataclass(frozen=True)
class CardBits:
    """``length`` bits, packed into ``data`` most significant bit first."""

    length: int
    data: bytes

    def bit_string(self) -> str:
        """The bits as ``"0110..."`` (``length`` characters), for messages and tests."""
        whole = int.from_bytes(self.data, "big") >> (len(self.data) * 8 - self.length)
        return format(whole, f"0{self.length}b")


def _packed(value: int, length: int) -> CardBits:
    size = (length + 7) // 8
    return CardBits(length, (value << (size * 8 - length)).to_bytes(size, "big"))


def _number(badge: str) -> int:
    text = badge.strip()
    if not text.isdigit() or not text.isascii():
        raise BadgeFormatError(f"badge {badge!r} is not a number: a card read needs one")
    return int(text)


def wiegand26(facility: int, card: int) -> CardBits:
    """The 26-bit H10301 frame for ``facility`` (0..255) and ``card`` (0..65535)."""
    if not 0 <= facility <= 0xFF:
        raise BadgeFormatError(f"facility code {facility} is outside 0..255")
    if not 0 <= card <= 0xFFFF:
        raise BadgeFormatError(f"badge {card} is outside 0..65535 (26-bit Wiegand)")
    payload = (facility << 16) | card  # 24 bits
    first, last = payload >> 12, payload & 0xFFF
    even = bin(first).count("1") % 2  # makes the first 13 bits even
    odd = 1 - bin(last).count("1") % 2  # makes the last 13 bits odd
    return _packed((even << 25) | (payload << 1) | odd, 26)


def raw_bits(card: int, length: int) -> CardBits:
    """``card`` as ``length`` bits, most significant first."""
    if not 1 <= length <= 128:
        raise BadgeFormatError(f"a raw card read has 1 to 128 bits, not {length}")
    if card >= 1 << length:
        raise BadgeFormatError(f"badge {card} does not fit in {length} bits")
    return _packed(card, length)


def card_bits(badge: str, card_format: str, *, facility: int = 0, length: int = 32) -> CardBits:
    """The card read for ``badge`` in ``card_format`` (:data:`CARD_FORMATS`)."""
    number = _number(badge)
    if card_format == "wiegand26":
        return wiegand26(facility, number)
    if card_format == "raw":
        return raw_bits(number, length)
    raise BadgeFormatError(f"card format must be one of {', '.join(CARD_FORMATS)}")


def wiegand26_fields(bits: CardBits) -> tuple[int, int]:
    """(facility, card) of a 26-bit frame whose parity bits are right (a panel's reading,
    for tests and ``doctor``); a wrong parity raises :class:`BadgeFormatError`."""
    if bits.length != 26:
        raise BadgeFormatError(f"a 26-bit Wiegand frame has 26 bits, not {bits.length}")
    value = int(bits.bit_string(), 2)
    even, payload, odd = value >> 25, (value >> 1) & 0xFFFFFF, value & 1
    first_even = (even + bin(payload >> 12).count("1")) % 2 == 0
    last_odd = (odd + bin(payload & 0xFFF).count("1")) % 2 == 1
    if not (first_even and last_odd):
        raise BadgeFormatError("26-bit Wiegand frame with a wrong parity bit")
    return payload >> 16, payload & 0xFFFF
