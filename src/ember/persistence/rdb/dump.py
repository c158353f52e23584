"""DUMP / RESTORE payloads (rdb-format.md §13; redis cluster.c ``createDumpPayload``,
``verifyDumpPayload``).

Layout: ``type byte | value (as in an RDB) | RDB version u16 LE | CRC64 u64 LE`` where
the CRC covers everything before it. There is no magic, and CRC 0 is not special.
"""

from __future__ import annotations

import struct
from typing import Any

from . import constants as C
from .crc64 import crc64
from .errors import DumpBadDataError, DumpPayloadError, RdbFormatError
from .reader import load_object
from .writer import DEFAULT_OPTIONS, RdbWriteOptions, encode_value

_FOOTER = struct.Struct("<HQ")


def dump_payload(value: Any, opts: RdbWriteOptions = DEFAULT_OPTIONS) -> bytes:
    """Serialize one value for DUMP (the version field is ``opts``' RDB version)."""
    t, body = encode_value(value, opts)
    head = bytes((t,)) + body + struct.pack("<H", opts.rdb_version)
    return head + struct.pack("<Q", crc64(head))


def payload_version(payload: bytes) -> int:
    if len(payload) < C.DUMP_FOOTER_LEN + 1:
        raise DumpPayloadError("DUMP payload too short")
    return int(_FOOTER.unpack_from(payload, len(payload) - C.DUMP_FOOTER_LEN)[0])


def verify_payload(payload: bytes, *, verify_checksum: bool = True) -> int:
    """``verifyDumpPayload``: check footer version and CRC; return the version.

    Accepted versions: 1..12 (Redis) and 80/81 (Valkey 9, whose byte 22 is HASH_2).
    Raises :class:`DumpPayloadError` ("DUMP payload version or checksum are wrong").
    """
    ver = payload_version(payload)
    if not (
        1 <= ver <= C.RDB_MAX_READ_VERSION
        or C.RDB_VALKEY_MIN_VERSION <= ver <= C.RDB_VALKEY_MAX_VERSION
    ):
        raise DumpPayloadError(f"DUMP payload version {ver} not supported")
    if verify_checksum:
        stored = int(struct.unpack_from("<Q", payload, len(payload) - 8)[0])
        if crc64(memoryview(payload)[:-8]) != stored:
            raise DumpPayloadError("DUMP payload checksum mismatch")
    return ver


def restore_payload(
    payload: bytes | bytearray | memoryview,
    sanitize: bool = False,
    *,
    verify_checksum: bool = True,
) -> Any:
    """Decode a DUMP payload back into a value (RESTORE).

    ``sanitize``: deep validation of packed encodings (``sanitize-dump-payload yes``).
    Raises :class:`DumpPayloadError` for a bad footer and :class:`DumpBadDataError`
    ("Bad data format") when the body does not decode, is empty or is a module value.
    """
    data = bytes(payload)
    ver = verify_payload(data, verify_checksum=verify_checksum)
    body_end = len(data) - C.DUMP_FOOTER_LEN
    t = data[0]
    try:
        value, end = load_object(
            t,
            data[:body_end],
            1,
            version=ver,
            valkey=ver >= C.RDB_VALKEY_MIN_VERSION,
            deep_sanitize=sanitize,
        )
    except RdbFormatError as e:
        raise DumpBadDataError(str(e)) from e
    if value is None:
        raise DumpBadDataError("module values cannot be restored")
    return value
