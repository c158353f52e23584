"""``ember-check-rdb``: check an RDB file the way ``redis-check-rdb`` does.

Text mode prints ``[offset N] ...`` lines like redis ``src/redis-check-rdb.c``
(``Checking RDB file``, ``AUX FIELD k = 'v'``, ``Selecting DB ID n``, ``Checksum OK``,
``\\o/ RDB looks OK! \\o/``, ``[info]`` counters) and, on failure, the
``--- RDB ERROR DETECTED ---`` block; exit status 0 = OK, 1 = error.

``--json`` prints the decoded contents in the corpus expectation format
(``shared/corpus/expected``): ``{"<db>": {"<key>": {"type", "value", "expire_ms",
["field_expire_ms"]}}}`` with the corpus value conventions (UTF-8 strings else
``{"$hex": ...}``, ``$hex:`` keys, sorted sets, zsets as ``[member, score]`` sorted by
score, ``inf``/``-inf`` as strings, streams summarised).
"""

# ruff: noqa: UP031  (output lines mirror redis-check-rdb.c printf formats)

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter, deque
from typing import Any

from ember.keyspace.types import FieldTTLHash, Stream, ZSet
from ember.persistence.rdb.constants import RDB_TYPE_NAMES, VALKEY_TYPE_NAMES
from ember.persistence.rdb.errors import RdbFormatError
from ember.persistence.rdb.reader import (
    Aux,
    Entry,
    Eof,
    Function,
    Header,
    ModuleAux,
    RdbReader,
    SelectDb,
    SlotInfo,
)

# ----------------------------------------------------------------------- JSON view


def _str(b: bytes) -> Any:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return {"$hex": b.hex()}


def _key(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return "$hex:" + b.hex()


def _score(x: float) -> Any:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == int(x):
        return int(x)
    return x


def _id(i: tuple[int, int]) -> str:
    return "%d-%d" % i


def value_to_json(
    value: Any, stream_length: int | None = None
) -> tuple[str, Any, dict[str, int] | None]:
    """(type name, JSON value, field TTLs or None) for one in-memory value.

    ``stream_length``: XLEN as stored in the file (defaults to the live entry count).
    """
    t = type(value)
    if t is bytes or t is bytearray:
        return "string", _str(bytes(value)), None
    if t is deque:
        return "list", [_str(v) for v in value], None
    if t is dict or t is FieldTTLHash:
        jv = {_key(f): _str(v) for f, v in value.items()}
        fe = None
        if t is FieldTTLHash and value.field_expires:
            fe = {_key(f): ms for f, ms in value.field_expires.items()}
        return "hash", jv, fe
    if t is set:
        return "set", [_str(m) for m in sorted(value)], None
    if t is ZSet:
        return "zset", [[_str(m), _score(s)] for s, m in value.index], None
    if t is Stream:
        entries = [
            [_id(eid), [_str(f) for f in dict.fromkeys(flat[0::2])]]
            for eid, flat in value.entries.items()
        ]
        groups = [
            {
                "name": _str(g.name),
                "last_delivered_id": _id(g.last_id),
                "pending": len(g.pel),
                "consumers": len(g.consumers),
            }
            for g in value.groups.values()
        ]
        return (
            "stream",
            {
                "entries": entries,
                "length": len(value.entries) if stream_length is None else stream_length,
                "last_id": _id(value.last_id),
                "groups": groups,
            },
            None,
        )
    raise TypeError(f"unknown value type {t!r}")


def rdb_to_json(reader: RdbReader) -> dict[str, Any]:
    """Decode every key into the corpus expectation format (DBs seen via SELECTDB)."""
    out: dict[str, dict[str, Any]] = {}
    db: dict[str, Any] | None = None
    cur = 0
    for ev in reader.events():
        if type(ev) is Entry:
            if db is None:
                db = out.setdefault(str(cur), {})
            slen = reader.stream_length if type(ev.value) is Stream else None
            tname, jv, fe = value_to_json(ev.value, slen)
            rec: dict[str, Any] = {"type": tname, "value": jv, "expire_ms": ev.expire_ms}
            if fe:
                rec["field_expire_ms"] = fe
            db[_key(ev.key)] = rec
        elif type(ev) is SelectDb:
            cur = ev.db
            db = out.setdefault(str(cur), {})
    return out


# ----------------------------------------------------------------------- text mode


def _type_name(t: int, valkey: bool) -> str:
    if valkey and t in VALKEY_TYPE_NAMES:
        return VALKEY_TYPE_NAMES[t]
    return RDB_TYPE_NAMES.get(t, "unknown")


def check(path: str, data: bytes, out: Any) -> int:
    """Print the redis-check-rdb style report for ``data``; return the exit code."""

    def info(offset: int, msg: str) -> None:
        out.write("[offset %d] %s\n" % (offset, msg))

    reader = RdbReader(data, skip_modules=True)
    keys = expires = already_expired = functions = subexpires = 0
    per_type: Counter[str] = Counter()
    now = int(time.time() * 1000)
    info(0, f"Checking RDB file {path}")
    try:
        for ev in reader.events():
            pos = reader.pos
            if type(ev) is Entry:
                keys += 1
                per_type[_type_name(ev.rdb_type, reader.valkey)] += 1
                if ev.expire_ms is not None:
                    expires += 1
                    if ev.expire_ms < now:
                        already_expired += 1
                if type(ev.value) is FieldTTLHash and ev.value.field_expires:
                    subexpires += 1
            elif type(ev) is Header:
                info(pos, "RDB version %d%s" % (ev.version, " (valkey)" if ev.valkey else ""))
            elif type(ev) is Aux:
                info(
                    pos,
                    "AUX FIELD {} = '{}'".format(
                        ev.name.decode("utf-8", "replace"),
                        ev.value.decode("utf-8", "replace"),
                    ),
                )
            elif type(ev) is SelectDb:
                info(pos, "Selecting DB ID %d" % ev.db)
            elif type(ev) is SlotInfo:
                info(
                    pos,
                    "Slot info: slot %d, %d keys, %d expires" % (ev.slot, ev.size, ev.expires_size),
                )
            elif type(ev) is ModuleAux:
                info(pos, f"MODULE AUX for: {ev.module_name}")
            elif type(ev) is Function:
                functions += 1
            elif type(ev) is Eof:
                if ev.checksum is None:
                    pass
                elif ev.checksum == 0:
                    info(pos, "RDB file was saved with checksum disabled: no check performed.")
                else:
                    info(pos, "Checksum OK")
                if ev.end_offset != len(data):
                    info(pos, "%d trailing bytes after the RDB" % (len(data) - ev.end_offset))
    except RdbFormatError as e:
        if e.key is not None and e.doing == "read-object-value":
            keys += 1  # redis-check-rdb counts the key whose value failed
        out.write("--- RDB ERROR DETECTED ---\n")
        out.write("[offset %d] %s\n" % (e.offset or 0, e.message))
        out.write(f"[additional info] While doing: {e.doing}\n")
        if e.key is not None:
            out.write(
                "[additional info] Reading key '{}'\n".format(e.key.decode("utf-8", "replace"))
            )
        if e.rdb_type is not None:
            out.write(
                "[additional info] Reading type %d (%s)\n"
                % (e.rdb_type, _type_name(e.rdb_type, reader.valkey))
            )
        _generic_info(out, keys, expires, already_expired, subexpires, functions, per_type)
        return 1
    info(reader.pos, "\\o/ RDB looks OK! \\o/")
    _generic_info(out, keys, expires, already_expired, subexpires, functions, per_type)
    return 0


def _generic_info(
    out: Any,
    keys: int,
    expires: int,
    already_expired: int,
    subexpires: int,
    functions: int,
    per_type: Counter[str],
) -> None:
    out.write("[info] %d keys read\n" % keys)
    out.write("[info] %d expires\n" % expires)
    out.write("[info] %d already expired\n" % already_expired)
    out.write("[info] %d subexpires\n" % subexpires)
    out.write("[info] %d functions\n" % functions)
    for name, n in sorted(per_type.items()):
        out.write("[info] %d keys of type %s\n" % (n, name))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ember-check-rdb", description="Check an RDB file.")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="dump decoded contents as JSON")
    args = p.parse_args(argv)
    try:
        with open(args.file, "rb") as f:
            data = f.read()
    except OSError as e:
        sys.stderr.write(f"Cannot open {args.file}: {e.strerror}\n")
        return 1
    if args.json:
        try:
            doc = rdb_to_json(RdbReader(data, skip_modules=True))
        except RdbFormatError as e:
            sys.stderr.write(f"--- RDB ERROR DETECTED ---\n{e}\n")
            return 1
        json.dump(doc, sys.stdout, indent=1, sort_keys=False)
        sys.stdout.write("\n")
        return 0
    return check(args.file, data, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
