"""DUMP / RESTORE payloads, checked against bytes captured from Redis 7.0.15 DUMP."""

from __future__ import annotations

import math
import struct
from collections import deque

import pytest

from ember.keyspace.types import FieldTTLHash, Stream, ZSet
from ember.persistence.rdb.crc64 import crc64
from ember.persistence.rdb.dump import dump_payload, restore_payload
from ember.persistence.rdb.errors import DumpBadDataError, DumpPayloadError
from ember.persistence.rdb.writer import RdbWriteOptions

# redis-cli DUMP output of redis-server 7.0.15 (default config)
REDIS_DUMPS = {
    "string": "000568656c6c6f0a006372df766534200a",
    "int16": "00c1d08a0a00d57cb019a3f85d10",
    "lzf": "00c30e4096016161e059000062e026000162620a00c27da001a54da893",
    "list": "120102c3406b40af13af00000010008161020101df9c02f4351cdcdf0220120309e04678e03c001a48d00002cfff02f1008003f1ff7f03f2ffff7f04f200008004f3ff200a0105f3206b028005f4200b4000027f09f4200f4000178009933932323333373230333638353437373538303814ff0a007574426d7ea44528",
    "hash": "101b1b00000006008266310382763103826632030201826633038001ff0a00379cc5829f4ff9dd",
    "intset": "0b120200000005000000fbff01000200030064000a0024654d3930953b2d",
    "zset": "11c3405a406c1f6c0000001400816502842d696e6605816302dffd02816802000181660293302e013130e00500123114816102010181620283322e3504816902f420414000034009816ae0030c0c67028531652b32300681640283205b0104ff0a00dfbbaa0865e0be49",
    "stream": "130110000000000000000100000000000000013d3d0000001900030100010201816102816202000102010001000101010201050102010001010103010401050100010101dfff02010181630205010601ff030200010100000302026730020081ffffffffffffffff000002673101020202000000000000000100000000000000012633ba12a201000001000000000000000100000000000000022633ba12a201000001020263302633ba12a2010000000263312633ba12a20100000200000000000000010000000000000001000000000000000100000000000000020a00cdc3a8ed1021802c",
}


@pytest.mark.parametrize("name", sorted(REDIS_DUMPS))
def test_redis_dump_payloads_restore_and_redump_identically(name: str) -> None:
    payload = bytes.fromhex(REDIS_DUMPS[name])
    value = restore_payload(payload, sanitize=True)
    assert dump_payload(value) == payload


def test_restored_values() -> None:
    assert restore_payload(bytes.fromhex(REDIS_DUMPS["string"])) == b"hello"
    assert restore_payload(bytes.fromhex(REDIS_DUMPS["int16"])) == b"-30000"
    assert restore_payload(bytes.fromhex(REDIS_DUMPS["intset"])) == {
        b"1",
        b"2",
        b"3",
        b"-5",
        b"100",
    }
    z = restore_payload(bytes.fromhex(REDIS_DUMPS["zset"]))
    assert isinstance(z, ZSet) and z.scores[b"d"] == math.inf and z.scores[b"e"] == -math.inf
    s = restore_payload(bytes.fromhex(REDIS_DUMPS["stream"]))
    assert isinstance(s, Stream) and list(s.entries) == [(1, 1), (1, 2), (2, 0)]
    g1 = s.groups[b"g1"]
    assert len(g1.pel) == 2 and set(g1.consumers) == {b"c0", b"c1"}


@pytest.mark.parametrize(
    "value",
    [b"", b"123", b"x" * 100, deque([b"a"] * 3), {b"f": b"v"}, {b"a", b"b"}, {b"7"}],
)
def test_roundtrip(value: object) -> None:
    assert restore_payload(dump_payload(value)) == value


def test_footer_version_and_crc() -> None:
    p = dump_payload(b"hello")
    assert p[-10:-8] == b"\x0a\x00"
    assert struct.unpack("<Q", p[-8:])[0] == crc64(p[:-8])
    bad = bytearray(p)
    bad[1] ^= 1
    with pytest.raises(DumpPayloadError):
        restore_payload(bytes(bad))
    restore_payload(bytes(bad), verify_checksum=False)
    # a payload from the future (RDB 13) is refused, like RESTORE does
    head = p[:-10] + struct.pack("<H", 13)
    with pytest.raises(DumpPayloadError):
        restore_payload(head + struct.pack("<Q", crc64(head)))
    with pytest.raises(DumpPayloadError):
        restore_payload(b"\x00")


def test_bad_data_format() -> None:
    for body in (b"\x00\x05ab", b"\x02\x00", b"\x63", b"\x07\x05\x00"):
        head = body + struct.pack("<H", 10)
        with pytest.raises(DumpBadDataError):
            restore_payload(head + struct.pack("<Q", crc64(head)))


def test_valkey_payload_with_field_ttls() -> None:
    h = FieldTTLHash({b"f1": b"v1", b"f2": b"v2"})
    h.field_expires[b"f1"] = 4102444800000
    p = dump_payload(h, RdbWriteOptions(version="valkey80"))
    assert p[0] == 22 and p[-10:-8] == b"\x50\x00"
    got = restore_payload(p)
    assert got == h and got.field_expires == h.field_expires
    p12 = dump_payload(h, RdbWriteOptions(version=12))
    assert p12[0] == 25
    assert restore_payload(p12).field_expires == h.field_expires
