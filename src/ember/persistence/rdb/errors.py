"""Typed errors of the RDB codec (style.md §4).

``RdbFormatError`` carries what ``redis-check-rdb``'s ``rdbCheckError`` prints: the byte
offset, what the parser was doing (``read-type``, ``read-key``, ``read-object-value``,
...), and the key being read. Only ``tools/`` and the command layer turn it into text.
"""

from __future__ import annotations


class RdbFormatError(Exception):
    """The bytes are not a valid RDB stream (truncated, corrupt, or unsupported)."""

    def __init__(
        self,
        message: str,
        *,
        offset: int | None = None,
        doing: str = "read-object-value",
        key: bytes | None = None,
        rdb_type: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.doing = doing
        self.key = key
        self.rdb_type = rdb_type

    def __str__(self) -> str:
        parts = []
        if self.offset is not None:
            parts.append(f"[offset {self.offset}] ")
        parts.append(self.message)
        parts.append(f" (while doing: {self.doing}")
        if self.key is not None:
            parts.append(f", key {self.key!r}")
        parts.append(")")
        return "".join(parts)


class RdbUnsupportedVersionError(RdbFormatError):
    """Magic is fine but the version is newer than (or outside) what ember reads."""

    def __init__(self, version: int, *, offset: int = 9) -> None:
        super().__init__(f"Can't handle RDB format version {version}", offset=offset, doing="start")
        self.version = version


class RdbModuleError(RdbFormatError):
    """A module value/aux for a module ember does not have (Redis refuses these too)."""


class RdbWriteError(ValueError):
    """A value cannot be written in the requested RDB dialect (e.g. field TTLs in v10)."""


class DumpPayloadError(ValueError):
    """RESTORE payload whose footer (version or CRC64) is wrong.

    The server replies ``ERR DUMP payload version or checksum are wrong``.
    """


class DumpBadDataError(ValueError):
    """RESTORE payload whose footer is fine but whose body does not decode.

    The server replies ``ERR Bad data format``.
    """
