"""RDB codec: reader (bytes -> events/values), writer (values -> bytes), DUMP payloads.

See ``docs/rdb.md`` for the layers and ``shared/docs/rdb-format.md`` for the format.
"""

from __future__ import annotations

from .dump import dump_payload, restore_payload
from .errors import (
    DumpBadDataError,
    DumpPayloadError,
    RdbFormatError,
    RdbModuleError,
    RdbUnsupportedVersionError,
    RdbWriteError,
)
from .reader import (
    Aux,
    Entry,
    Eof,
    Function,
    Header,
    ModuleAux,
    RdbFile,
    RdbReader,
    ResizeDb,
    SelectDb,
    SlotImport,
    SlotInfo,
    load_object,
    load_rdb,
)
from .writer import (
    RdbWriteOptions,
    RdbWriter,
    encode_value,
    save_rdb,
    save_rdb_bytes,
)

__all__ = [
    "RdbWriteOptions",
    "RdbWriter",
    "dump_payload",
    "encode_value",
    "restore_payload",
    "save_rdb",
    "save_rdb_bytes",
    "Aux",
    "DumpBadDataError",
    "DumpPayloadError",
    "Entry",
    "Eof",
    "Function",
    "Header",
    "ModuleAux",
    "RdbFile",
    "RdbFormatError",
    "RdbModuleError",
    "RdbReader",
    "RdbUnsupportedVersionError",
    "RdbWriteError",
    "ResizeDb",
    "SelectDb",
    "SlotImport",
    "SlotInfo",
    "load_object",
    "load_rdb",
]
