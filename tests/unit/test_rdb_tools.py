"""ember-check-rdb output, encodings helpers, CRC64 and LZF decisions."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import lzf
import pytest

from ember.persistence.rdb.crc64 import crc64
from ember.persistence.rdb.encodings import EncodingError, string2ll
from ember.persistence.rdb.encodings.intset import intset_decode, intset_encode
from ember.persistence.rdb.encodings.listpack import encode_backlen, lp_decode, lp_encode
from ember.persistence.rdb.writer import (
    RdbWriteOptions,
    _lzf_for_rdb,
    save_len,
    save_rdb_bytes,
    zset_score_element,
)
from ember.tools import check_rdb
from tests.helpers.corpus import CORPUS


def test_crc64_check_value() -> None:
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA
    assert crc64(b"56789", crc64(b"1234")) == 0xE9C6D914C4B8D9CA


@pytest.mark.parametrize(
    "s,v",
    [
        (b"0", 0),
        (b"-1", -1),
        (b"9223372036854775807", 2**63 - 1),
        (b"-9223372036854775808", -(2**63)),
        (b"9223372036854775808", None),
        (b"-0", None),
        (b"01", None),
        (b"+1", None),
        (b"", None),
        (b"1 ", None),
        (b"-", None),
        (b"12345678901234567890123", None),
    ],
)
def test_string2ll(s: bytes, v: int | None) -> None:
    assert string2ll(s) == v


def test_save_len_forms() -> None:
    assert save_len(63) == b"\x3f"
    assert save_len(64) == b"\x40\x40"
    assert save_len(16383) == b"\x7f\xff"
    assert save_len(16384) == b"\x80\x00\x00\x40\x00"
    assert save_len(2**32) == b"\x81" + (2**32).to_bytes(8, "big")


def test_listpack_roundtrip_and_int_forms() -> None:
    items = [
        0,
        127,
        128,
        -4096,
        4095,
        -32768,
        32767,
        -(2**23),
        2**23 - 1,
        -(2**31),
        2**31 - 1,
        2**63 - 1,
    ]
    blob = lp_encode([b"%d" % i for i in items] + [b"x" * 63, b"y" * 64, b"z" * 4095, b"w" * 4096])
    out = lp_decode(blob, deep=True)
    assert out[: len(items)] == items
    assert out[len(items) :] == [b"x" * 63, b"y" * 64, b"z" * 4095, b"w" * 4096]
    assert encode_backlen(127) == b"\x7f" and len(encode_backlen(16383)) == 3
    bad = bytearray(blob)
    bad[-2] ^= 0x01  # last backlen byte
    with pytest.raises(EncodingError):
        lp_decode(bytes(bad), deep=True)


def test_intset() -> None:
    for vals in ([1, 2], [1, 70000], [1, 5000000000]):
        blob = intset_encode(vals)
        assert intset_decode(blob, deep=True) == vals
    with pytest.raises(EncodingError):
        intset_decode(intset_encode([2, 1])[:8] + b"\x02\x00\x01\x00", deep=True)


def test_zset_score_element() -> None:
    assert zset_score_element(1.0) == 1
    assert zset_score_element(-0.0) == 0
    assert zset_score_element(2.5) == b"2.5"
    assert zset_score_element(0.1) == b"0.10000000000000001"
    assert zset_score_element(math.inf) == b"inf"
    assert zset_score_element(2.0**62) == 2**62
    assert zset_score_element(2.0**63) == b"9.2233720368547758e+18"


def test_lzf_budget_like_redis() -> None:
    # a 61-byte stream listpack that liblzf packs into exactly len-4 bytes, but Redis's
    # lzf_compress gives up (its bound checks keep a few bytes of margin)
    lp = bytes.fromhex(
        "3d0000001900030100010201816102816202000102010001000101010201050102010001010103010401050100010101dfff02010181630205010601ff"
    )
    assert len(lzf.compress(lp, 100) or b"") == len(lp) - 4
    assert _lzf_for_rdb(lp, len(lp)) is None
    assert _lzf_for_rdb(b"a" * 100, 100) is not None


def test_check_rdb_text_output_ok(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    p = tmp_path / "dump.rdb"
    p.write_bytes(save_rdb_bytes({0: {b"k": (b"v", 10)}}, RdbWriteOptions(ctime=1)))
    assert check_rdb.main([str(p)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"[offset 0] Checking RDB file {p}\n")
    assert "AUX FIELD redis-ver = '7.0.15'" in out
    assert "Selecting DB ID 0" in out
    assert "Checksum OK" in out
    assert "\\o/ RDB looks OK! \\o/" in out
    assert "[info] 1 keys read" in out and "[info] 1 expires" in out
    assert "[info] 1 already expired" in out
    assert "[info] 1 keys of type string" in out


def test_check_rdb_error_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = save_rdb_bytes({0: {b"mykey": (b"value", None)}}, RdbWriteOptions(ctime=1))
    p = tmp_path / "bad.rdb"
    p.write_bytes(data[: data.index(b"value") + 2])
    assert check_rdb.main([str(p)]) == 1
    out = capsys.readouterr().out
    assert "--- RDB ERROR DETECTED ---" in out
    assert "Unexpected EOF reading RDB file" in out
    assert "[additional info] While doing: read-object-value" in out
    assert "[additional info] Reading key 'mykey'" in out
    assert "[additional info] Reading type 0 (string)" in out


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not found")
def test_check_rdb_json_matches_corpus_format(capsys: pytest.CaptureFixture[str]) -> None:
    rel = "rdb/generated-redis-7.0.15/encodings.rdb"
    assert check_rdb.main([str(CORPUS / rel), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    exp = json.loads(
        (CORPUS / "expected" / ("rdb__generated-redis-7.0.15__encodings.rdb.json")).read_text()
    )
    exp.pop("_meta")
    assert got == exp


def test_check_rdb_missing_file() -> None:
    assert check_rdb.main(["/nonexistent/file.rdb"]) == 1


def test_check_json_writer_stream(tmp_path: Path) -> None:
    from ember.persistence.rdb.reader import RdbReader

    buf = io.StringIO()
    data = save_rdb_bytes({0: {b"\xff": (b"\x00\xff", None)}}, RdbWriteOptions(ctime=1))
    doc = check_rdb.rdb_to_json(RdbReader(data))
    assert doc == {
        "0": {"$hex:ff": {"type": "string", "value": {"$hex": "00ff"}, "expire_ms": None}}
    }
    assert check_rdb.check("x", data, buf) == 0
