"""Replaying an AOF at startup (Redis ``loadAppendOnlyFiles``/``loadSingleAppendOnlyFile``).

Files are loaded in manifest order (base, then incr files); an RDB base or preamble is
loaded with the RDB codec (expired keys kept: they expire later), then the RESP records
are executed by a fake client through the normal dispatcher. Policy for damaged tails:

* EOF in the middle of a record, or a clean EOF inside MULTI, in the LAST file and with
  ``aof-load-truncated yes``: the file is truncated on disk to the last complete command
  (before the open MULTI) and loading goes on, with Redis's warnings;
* the same in an earlier file, or with ``aof-load-truncated no``: fatal;
* a format error anywhere, an unknown command, a missing file: fatal (exit 1), the files
  are left untouched.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

from ember.persistence.aof import manifest as mf
from ember.persistence.aof.parser import AofParser, Command, End, EndStatus, ParseMode
from ember.persistence.rdb.errors import RdbFormatError
from ember.server import log

if TYPE_CHECKING:
    from ember.server.server import Server

SLICE = 5000
RDB_MAGICS = (b"REDIS", b"VALKEY")


class AofLoadError(Exception):
    pass


def _fatal(msg: str) -> None:
    log.warning(msg)
    raise SystemExit(1)


async def load_aof_files(server: Server, dirname: str, m: mf.Manifest, load_truncated: bool) -> int:
    files = m.load_order()
    total = 0
    from ember.server.client import Client

    fake = Client(server)
    fake.id = 0
    fake.reply_mode = 1  # replies are not needed
    fake.is_loader = True
    fake.authenticated = True
    # getBaseAndIncrAppendOnlyFilesSize: every file named by the manifest must exist
    # before anything is loaded
    total_bytes = 0
    for info in files:
        try:
            total_bytes += os.stat(os.path.join(dirname, info.name)).st_size
        except OSError as e:
            _fatal(f"Unable to obtain the AOF file {info.name} length. stat: {e.strerror}")
    p = getattr(server, "persistence", None)
    progress = p is not None and hasattr(p, "loading_total")
    if progress:
        p.loading_total, p.loading_loaded = total_bytes, 0  # type: ignore[union-attr]
    for idx, info in enumerate(files):
        path = os.path.join(dirname, info.name)
        last = idx == len(files) - 1
        with open(path, "rb") as f:
            data = f.read()
        if not data:
            continue  # AOF_EMPTY: fine for any file
        n = await _load_one(server, fake, path, info.name, data, last, load_truncated)
        total += n
        if progress:
            p.loading_loaded += len(data)  # type: ignore[union-attr]
        log.notice(
            f"DB loaded from {'base' if info is m.base else 'incr'} file {info.name}: {n} commands"
        )
    if fake.in_multi:
        fake.in_multi = False
        fake.multi_queue = []
    server.dirty = 0
    return total


async def _load_one(
    server: Server,
    fake: object,
    path: str,
    name: str,
    data: bytes,
    last: bool,
    load_truncated: bool,
) -> int:
    from ember.persistence.rdbfile import load_rdb_into

    pos = 0
    if data.startswith(RDB_MAGICS):
        log.notice("Reading RDB base file on AOF loading...")
        try:
            res = await load_rdb_into(server, data, aof_preamble=True)
        except RdbFormatError as e:
            _fatal(
                f"Error reading the RDB base file {name}, AOF loading aborted ({e}, offset {e.offset})"
            )
            return 0
        pos = res.end_offset
        log.notice("Reading the remaining AOF tail...")
    parser = AofParser(ParseMode.LOADER, offset=pos, preamble=False, name=name)
    events = parser.feed(memoryview(data)[pos:])
    events += parser.close()
    commands = 0
    execute = fake.execute  # type: ignore[attr-defined]
    table = server.commands_by_name
    end: End | None = None
    for ev in events:
        if type(ev) is Command:
            argv = ev.argv
            if argv[0].lower() not in table:
                _fatal(
                    f"Unknown command '{argv[0].decode(errors='replace')}' reading the append only file {name}"
                )
            execute(argv)
            commands += 1
            if commands % SLICE == 0:
                await asyncio.sleep(0)
        elif isinstance(ev, End):
            end = ev
    assert end is not None
    if end.status is EndStatus.OK:
        return commands
    if end.truncated:
        cut = end.offset
        if end.status is EndStatus.UNTERMINATED_MULTI:
            log.warning(f"Revert incomplete MULTI/EXEC transaction in AOF file {name}")
        elif end.before_multi is not None:
            # EOF inside a record of an open MULTI: Redis 7.0 cuts at the last complete
            # command, leaving "MULTI ..." without EXEC at the end of the file, so the
            # commands appended after the restart are swallowed by that MULTI (and lost)
            # at the next load. ember cuts before the MULTI: same dataset, clean tail.
            cut = end.before_multi
        if getattr(fake, "in_multi", False):
            fake.in_multi = False  # type: ignore[attr-defined]
            fake.multi_queue = []  # type: ignore[attr-defined]
        if not load_truncated:
            _fatal(
                f"Unexpected end of file reading the append only file {name}. You can: "
                "1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. "
                "2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
            )
        log.warning(f"!!! Warning: short read while loading the AOF file {name}!!!")
        log.warning(f"!!! Truncating the AOF {name} at offset {cut} !!!")
        try:
            os.truncate(path, cut)
        except OSError as e:
            _fatal(f"Error truncating the AOF file {name}: {e.strerror}")
        log.warning(f"AOF {name} loaded anyway because aof-load-truncated is enabled")
        if not last:
            _fatal("Fatal error: the truncated file is not the last file")
        return commands
    if end.status is EndStatus.PREAMBLE_ERROR:
        _fatal(f"Error reading the RDB preamble of the AOF file {name}, AOF loading aborted")
    _fatal(
        f"Bad file format reading the append only file {name}: make a backup of your AOF "
        f"file, then use ./redis-check-aof --fix <filename.manifest>"
    )
    return commands
