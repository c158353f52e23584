"""Every corpus RDB with an expectation decodes to exactly that expectation.

Comparison rule (decided from each expectation's ``_meta``, see corpus README):

* Key sets come from whoever produced the expectation. Real servers drop keys whose
  TTL has passed when they load: Valkey ran under faketime 2000-01-01, Redis 7.0.15
  with the real clock. So a key we decode that is absent from the expectation is
  accepted only if its ``expire_ms`` is before that producer's clock (946684800000
  for Valkey, now for Redis); every other key must match exactly, values included.
* When no server produced the expectation (parsers only), the parsers' documented
  gaps apply: ``rdb-py`` skips streams and module values, so stream keys absent from
  the expectation are accepted (we decode them; nobody else did).
* Empty DBs (a SELECTDB with no keys after it) are ignored on both sides: the
  producers disagree on whether to list them.
* Files every real server refused (``load_errors`` from both servers, no server in
  ``produced_by``) must be refused by the default reader too. If the refusal is only
  about module values (no such module loaded) or duplicate keys (Redis panics on
  them), loading with ``skip_modules`` and ``allow_duplicates`` (redis
  ``RDBFLAGS_ALLOW_DUP``: the later record wins) must give the parsers' result.
* ``corrupt_*`` files without an expectation (corpus README: intentionally corrupt)
  must be refused.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from ember.persistence.rdb import RdbFormatError, RdbReader, load_rdb
from ember.tools.check_rdb import rdb_to_json
from tests.helpers.corpus import CORPUS

EXPECTED = CORPUS / "expected"
SERVERS = {"redis-7.0.15", "valkey-9.1.2"}
FAKETIME_2000_MS = 946684800000


def _cases() -> list[tuple[str, Path]]:
    if not EXPECTED.is_dir():
        return []
    out = []
    for ef in sorted(EXPECTED.glob("*.json")):
        if ef.name.endswith(".replay.json"):
            continue
        rel = ef.name[: -len(".json")].replace("__", "/")
        if (CORPUS / rel).is_file():
            out.append((rel, ef))
    return out


CASES = _cases()


def _drop_empty(doc: dict[str, Any]) -> dict[str, Any]:
    return {db: keys for db, keys in doc.items() if keys}


def _compare(rel: str, got: dict[str, Any], exp: dict[str, Any], meta: dict[str, Any]) -> None:
    produced = set(meta["produced_by"])
    if "valkey-9.1.2" in produced:
        cutoff: int | None = FAKETIME_2000_MS
    elif "redis-7.0.15" in produced:
        cutoff = int(time.time() * 1000)
    else:
        cutoff = None
    parser_only = not (produced & SERVERS)
    got = _drop_empty(got)
    exp = _drop_empty(exp)
    for db in list(got):
        keys = got[db]
        for k in list(keys):
            if k in exp.get(db, {}):
                continue
            rec = keys[k]
            if cutoff is not None and rec["expire_ms"] is not None and rec["expire_ms"] < cutoff:
                del keys[k]  # the server dropped it at load time
            elif parser_only and rec["type"] == "stream":
                del keys[k]  # rdb-py skips streams
        if not keys:
            del got[db]
    assert got.keys() == exp.keys(), rel
    for db in exp:
        assert got[db].keys() == exp[db].keys(), (rel, db)
        for k in exp[db]:
            assert got[db][k] == exp[db][k], (rel, db, k)


@pytest.mark.parametrize("rel,expected_file", CASES, ids=[c[0] for c in CASES])
def test_corpus_file_matches_expectation(rel: str, expected_file: Path) -> None:
    exp = json.loads(expected_file.read_text())
    meta = exp.pop("_meta")
    data = (CORPUS / rel).read_bytes()
    produced = set(meta["produced_by"])
    refused_by_servers = not (produced & SERVERS) and SERVERS <= set(meta.get("load_errors", {}))
    if refused_by_servers:
        with pytest.raises(RdbFormatError):
            load_rdb(data)  # defaults: module values and duplicate keys are refused
        try:
            load_rdb(data, skip_modules=True, allow_duplicates=True)
        except RdbFormatError:
            return  # refused for a structural reason, like the servers
    got = rdb_to_json(RdbReader(data, skip_modules=True))
    _compare(rel, got, exp, meta)
    # and the convenience loader agrees on the key count and finds the end
    f = load_rdb(data, skip_modules=True, allow_duplicates=refused_by_servers)
    assert 9 < f.end_offset <= len(data)


def test_corpus_has_cases() -> None:
    assert len(CASES) > 80


@pytest.mark.parametrize(
    "rel",
    [
        "rdb/redis/corrupt_ziplist.rdb",
    ],
)
def test_corrupt_files_are_refused(rel: str) -> None:
    data = (CORPUS / rel).read_bytes()
    with pytest.raises(RdbFormatError) as ei:
        load_rdb(data)
    assert ei.value.key is not None
    assert ei.value.offset is not None and 0 < ei.value.offset <= len(data)


def test_corrupt_empty_keys_are_skipped() -> None:
    data = (CORPUS / "rdb/redis/corrupt_empty_keys.rdb").read_bytes()
    r = RdbReader(data)
    events = list(r.events())
    assert not any(type(e).__name__ == "Entry" for e in events)
    assert r.empty_keys_skipped == 9


def test_aof_preamble_end_offset() -> None:
    data = (CORPUS / "aof/redis/rdb-preamble.aof").read_bytes()
    f = load_rdb(data)
    assert f.end_offset < len(data)
    assert data[f.end_offset : f.end_offset + 1] == b"*"


def test_module_values_refused_by_default_and_skippable() -> None:
    data = (CORPUS / "rdb/rdbtools/redis_40_with_module.rdb").read_bytes()
    with pytest.raises(RdbFormatError, match="module"):
        load_rdb(data)
    warnings: list[str] = []
    f = load_rdb(data, skip_modules=True, on_warning=warnings.append)
    assert warnings and "module" in warnings[0]
    assert f.end_offset == 248  # then a 40-byte replication EOF mark follows


def test_checksum_mismatch_detected() -> None:
    data = bytearray((CORPUS / "rdb/generated-redis-7.0.15/encodings.rdb").read_bytes())
    data[-1] ^= 0xFF
    with pytest.raises(RdbFormatError, match="checksum"):
        load_rdb(bytes(data))
    load_rdb(bytes(data), verify_checksum=False)


def test_nochecksum_file_is_accepted() -> None:
    f = load_rdb((CORPUS / "rdb/generated-redis-7.0.15/nochecksum.rdb").read_bytes())
    assert f.checksum == 0 and not f.checksum_verified


def test_function_pre_ga_converted_or_refused() -> None:
    data = (CORPUS / "rdb/redis-rdb-cli/filter1.rdb").read_bytes()
    f = load_rdb(data)
    assert f.functions and f.functions[0].startswith(b"#!")
    with pytest.raises(RdbFormatError, match="Pre-release function"):
        load_rdb(data, allow_function_pre_ga=False)
