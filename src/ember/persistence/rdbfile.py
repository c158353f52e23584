"""The RDB file layer (Redis's rdbSave/rdbLoad onion, above the sans-IO codec).

``save_rdb(sink)`` is the codec (``persistence.rdb.writer``); here: the snapshot encoder
that feeds it (:class:`RdbEncoder`), write options from the config, and loading a file
into the server's databases in slices (so clients get ``-LOADING`` meanwhile).
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ember.persistence.rdb.errors import RdbFormatError
from ember.persistence.rdb.reader import Aux, Eof, Function, Progress, RdbReader, settle_gc
from ember.persistence.rdb.writer import RdbWriteOptions, RdbWriter

if TYPE_CHECKING:
    from ember.server.server import Server


def write_options(server: Server, aof_base: bool = False) -> RdbWriteOptions:
    v = server.config.values
    version: int | str = v["rdb-version"]
    if version != "valkey80":
        version = int(version)
    return RdbWriteOptions(
        version=version,
        compression=v["rdbcompression"],
        checksum=v["rdbchecksum"],
        list_max_listpack_size=v["list-max-listpack-size"],
        hash_max_listpack_entries=v["hash-max-listpack-entries"],
        hash_max_listpack_value=v["hash-max-listpack-value"],
        set_max_intset_entries=v["set-max-intset-entries"],
        set_max_listpack_entries=v["set-max-listpack-entries"],
        set_max_listpack_value=v["set-max-listpack-value"],
        zset_max_listpack_entries=v["zset-max-listpack-entries"],
        zset_max_listpack_value=v["zset-max-listpack-value"],
        stream_node_max_bytes=v["stream-node-max-bytes"],
        stream_node_max_entries=v["stream-node-max-entries"],
        aof_base=aof_base,
        used_mem=_rss(),
    )


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


class _Collect:
    __slots__ = ("chunks",)

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.chunks.append(data)


class RdbEncoder:
    """SnapshotEncoder writing an RDB file through :class:`RdbWriter`."""

    def __init__(
        self,
        sink: Any,
        opts: RdbWriteOptions,
        functions: list[bytes],
        access: Callable[[int], Callable[[bytes], bytes] | None] | None = None,
    ) -> None:
        self.writer = RdbWriter(sink, opts)
        self.opts = opts
        self.functions = functions
        # per db: the IDLE / FREQ record of a key (ember.keyspace.access.rdb_prefix)
        self._access_of = access
        self._access: dict[int, Callable[[bytes], bytes] | None] = {}
        self._scratch = _Collect()
        self._one = RdbWriter(
            self._scratch, RdbWriteOptions(**{**_opts_dict(opts), "checksum": False})
        )

    def begin(self) -> None:
        self.writer.start()
        for code in self.functions:
            self.writer.function(code)

    def begin_db(self, dbid: int, size: int, expires: int) -> None:
        self.writer.select_db(dbid, size, expires)

    def _access_for(self, dbid: int) -> Callable[[bytes], bytes] | None:
        if self._access_of is None:
            return None
        if dbid not in self._access:
            self._access[dbid] = self._access_of(dbid)
        return self._access[dbid]

    def encode_entry(self, dbid: int, key: bytes, value: Any, expire: int | None) -> bytes:
        one = self._one
        one.entries(((key, value, expire),), self._access_for(dbid))
        chunks = self._scratch.chunks
        if chunks:  # a value >= 64 KB was flushed to the scratch sink mid-entry
            data = b"".join(chunks) + bytes(one._buf)
            chunks.clear()
        else:
            data = bytes(one._buf)
        one._buf.clear()
        return data

    def write_entries(self, dbid: int, items: list[tuple[bytes, Any, int | None]]) -> None:
        self.writer.entries(items, self._access_for(dbid))

    def write_raw(self, data: bytes) -> None:
        self.writer.write_raw(data)

    def end(self) -> None:
        self.writer.finish()

    @property
    def keys_written(self) -> int:
        return self.writer.keys_written


def rdb_encoder(server: Server, sink: Any, aof_base: bool = False) -> RdbEncoder:
    """The encoder of a snapshot of ``server`` (SAVE, BGSAVE, an AOF rewrite's base)."""
    from ember.keyspace.access import rdb_prefix

    return RdbEncoder(
        sink, write_options(server, aof_base), functions_of(server), rdb_prefix(server)
    )


def _opts_dict(opts: RdbWriteOptions) -> dict[str, Any]:
    return {name: getattr(opts, name) for name in opts.__dataclass_fields__}


def functions_of(server: Server) -> list[bytes]:
    fn = getattr(server, "functions", None)
    if fn is None:
        return []
    return [code for _, code in fn.libraries()]


# ------------------------------------------------------------------------------ loading


class LoadResult:
    def __init__(self) -> None:
        self.keys_loaded = 0
        self.keys_expired = 0
        self.version = 0
        self.aux: dict[bytes, bytes] = {}
        self.end_offset = 0


async def load_rdb_into(
    server: Server,
    data: bytes,
    *,
    aof_preamble: bool = False,
    slice_entries: int = 5000,
    sync: bool = False,
    progress: Any = None,
    allow_duplicates: bool = False,
) -> LoadResult:
    """Load an RDB image into the server, replacing nothing (the dbs must be empty).

    Expired keys are dropped unless ``aof_preamble`` (an AOF base keeps them and lets
    expiry delete them later, as Redis does). ``allow_duplicates`` (DEBUG RELOAD MERGE,
    Redis ``RDBFLAGS_ALLOW_DUP``): a key already present is replaced instead of an error.
    Raises :class:`RdbFormatError`; on error the caller must discard the partially
    loaded dataset. Unless ``sync``, the event loop gets control every
    ``slice_entries`` keys and after every ``loading-process-events-interval-bytes``
    of the file (clients meanwhile get ``-LOADING``).

    Keys go straight into ``db.data`` / ``db.expires`` (:meth:`RdbReader.load_into`):
    loading is the one place that bypasses the ``Db`` write methods; the
    ``before_write`` hook (DEBUG RELOAD NOFLUSH during a background save) is still
    called for every stored key. A db frozen by a forkless save (see
    :mod:`ember.keyspace.db`) is loaded beside its dict and merged through ``Db.set``.
    """
    res = LoadResult()
    verify = bool(server.config.values["rdbchecksum"])
    # sanitize-dump-payload yes also deep-checks what is loaded from disk (Redis 7.0)
    deep = server.config.values["sanitize-dump-payload"] == "yes"
    reader = RdbReader(
        data,
        verify_checksum=verify,
        deep_sanitize=deep,
        on_warning=lambda m: server.log("warning", m),
    )
    dbs = server.dbs
    functions = getattr(server, "functions", None)
    hook = server.before_write
    current = [dbs[0]]  # the DB keys are going into (for the hook)
    beside: dict[int, tuple[dict[bytes, Any], dict[bytes, int]]] = {}  # frozen dbs

    def select_db(idx: int) -> tuple[dict[bytes, Any], dict[bytes, int]]:
        if idx >= len(dbs):
            raise RdbFormatError(
                f"FATAL: Data file was created with a Redis server configured to handle "
                f"more than {len(dbs)} databases. Exiting",
                offset=reader.pos,
                doing="select db",
            )
        db = dbs[idx]
        current[0] = db
        if db.frozen is not None:  # DEBUG RELOAD NOFLUSH during a forkless save
            return beside.setdefault(idx, ({}, {}))
        return db.data, db.expires

    before_insert = None
    if hook is not None:

        def before_insert(key: bytes) -> None:
            hook(current[0], key)

    from ember.keyspace.access import restore_access

    def on_access(key: bytes, idle: int | None, freq: int | None) -> None:
        restore_access(server, current[0].lru, key, idle, freq)  # objectSetLRUOrLFU

    events = reader.load_into(
        select_db,
        on_access=on_access,
        now_ms=None if aof_preamble else int(time.time() * 1000),
        allow_duplicates=allow_duplicates,
        slice_entries=0 if sync else slice_entries,
        slice_bytes=0 if sync else server.config.values["loading-process-events-interval-bytes"],
        before_insert=before_insert,
    )
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of new objects, none of them garbage: skip the collections
    try:
        for ev in events:
            t = type(ev)
            if t is Progress:
                if progress is not None:
                    progress(ev.pos)  # type: ignore[union-attr]
                await asyncio.sleep(0)
            elif t is Aux:
                res.aux[ev.name] = ev.value  # type: ignore[union-attr]
            elif t is Function:
                if functions is not None:
                    functions.load(ev.code, replace=True)  # type: ignore[union-attr]
            elif t is Eof:
                res.end_offset = ev.end_offset  # type: ignore[union-attr]
    finally:
        settle_gc(gc_was_enabled)
    for idx, (data_, expires_) in beside.items():
        db = dbs[idx]
        for key, value in data_.items():
            if not allow_duplicates and db.has(key):
                raise RdbFormatError(
                    f"RDB has duplicated key '{key.decode('utf-8', 'replace')}' in DB {idx}",
                    key=key,
                )
            db.set(key, value)
            when = expires_.get(key)
            if when is not None:
                db.set_expire(key, when)
    res.keys_loaded = reader.keys_loaded
    res.keys_expired = reader.keys_expired
    res.version = reader.version
    return res


def describe_error(e: RdbFormatError) -> str:
    """One line for the log: the reason, then where (offset, parser step, key)."""
    key = f", key '{e.key.decode(errors='replace')}'" if e.key is not None else ""
    where = f"at offset {e.offset}, " if e.offset is not None else ""
    return f"{getattr(e, 'message', str(e))} ({where}while {e.doing}{key})"
