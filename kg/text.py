"""Decoding the text files users give rxkg: UTF-8 only, a byte-order mark dropped, a bad byte named
by its line (the caller adds the file name)."""

from __future__ import annotations

__all__ = ["NotUtf8", "decode_utf8"]


class NotUtf8(ValueError):
    """A byte that is not UTF-8; ``line`` is its 1-based line in the text."""

    def __init__(self, line: int, byte: int) -> None:
        self.line = line
        super().__init__(f"bad encoding: byte 0x{byte:02x} is not valid UTF-8 (files must be UTF-8)")


def decode_utf8(raw: bytes) -> str:
    """``raw`` as text, without the byte-order mark Windows editors write; :class:`NotUtf8` otherwise."""
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        raise NotUtf8(raw.count(b"\n", 0, err.start) + 1, raw[err.start]) from None
