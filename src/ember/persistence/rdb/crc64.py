"""CRC-64/Jones as Redis uses it (rdb-format.md §12; redis ``src/crc64.c``).

Backed by anycrc's ``CRC64-REDIS`` model (C code, ~10 GB/s); ``crc64(data, crc)``
continues a running checksum, so callers can feed chunks.
"""

from __future__ import annotations

import anycrc

_MODEL = anycrc.Model("CRC64-REDIS")
_calc = _MODEL.calc

# redis crc64Test: check("123456789") == 0xe9c6d914c4b8d9ca
CRC64_CHECK_VALUE = 0xE9C6D914C4B8D9CA


def crc64(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC64 of ``data``, continuing from ``crc`` (0 = start of stream)."""
    return int(_calc(data, crc))


assert crc64(b"123456789") == CRC64_CHECK_VALUE
