"""Manifest parsing / formatting / transitions (Redis 7.0 aofLoadManifestFromFile rules)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ember.persistence.aof.manifest import (
    AofInfo,
    Manifest,
    ManifestError,
    base_name,
    drop_history,
    finish_rewrite,
    format_manifest,
    incr_name,
    last_incr,
    manifest_name,
    mark_incrs_as_history,
    needs_legacy_upgrade,
    new_base,
    new_incr,
    parse_manifest,
    repr_bytes,
    split_args,
    start_rewrite,
    temp_incr_name,
    temp_manifest_name,
    temp_rewrite_name,
    upgrade_from_legacy,
)
from tests.helpers.corpus import CORPUS


def B(name: str, seq: int) -> AofInfo:
    return AofInfo(name, seq, "b")


def H(name: str, seq: int) -> AofInfo:
    return AofInfo(name, seq, "h")


def I(name: str, seq: int) -> AofInfo:  # noqa: E743
    return AofInfo(name, seq, "i")


# ---------------------------------------------------------------- corpus manifests


def corpus_manifests() -> list[Path]:
    return sorted((CORPUS / "aof").glob("**/*.manifest"))


@pytest.mark.skipif(not (CORPUS / "aof").is_dir(), reason="corpus not available")
def test_corpus_manifests_round_trip() -> None:
    paths = corpus_manifests()
    assert paths
    for path in paths:
        data = path.read_bytes()
        m = parse_manifest(data)
        assert format_manifest(m) == data, path
        assert parse_manifest(format_manifest(m)) == m


def test_parse_typical() -> None:
    m = parse_manifest(
        b"file appendonly.aof.2.base.rdb seq 2 type b\n"
        b"file appendonly.aof.1.incr.aof seq 1 type h\n"
        b"file appendonly.aof.2.incr.aof seq 2 type h\n"
        b"file appendonly.aof.4.incr.aof seq 4 type i\n"
        b"file appendonly.aof.5.incr.aof seq 5 type i\n"
    )
    assert m.base == B("appendonly.aof.2.base.rdb", 2)
    assert m.history == (H("appendonly.aof.1.incr.aof", 1), H("appendonly.aof.2.incr.aof", 2))
    assert m.incrs == (I("appendonly.aof.4.incr.aof", 4), I("appendonly.aof.5.incr.aof", 5))
    assert (m.curr_base_seq, m.curr_incr_seq) == (2, 5)
    assert [ai.name for ai in m.load_order()] == [
        "appendonly.aof.2.base.rdb",
        "appendonly.aof.4.incr.aof",
        "appendonly.aof.5.incr.aof",
    ]


def test_parse_lenient_parts() -> None:
    # comments anywhere, keys case-insensitive, unknown pairs ignored, type = first char,
    # quoted names, blanks around, pairs in any order, lines without a base
    m = parse_manifest(
        b"# a comment\n"
        b'  FILE "my file.aof" Seq 7 TYPE base extra stuff\t\r\n'
        b"#another\n"
        b"type incr seq 9 file 'x.aof'\n"
    )
    assert m.base == B("my file.aof", 7)
    assert m.incrs == (I("x.aof", 9),)


def test_only_comments_is_an_empty_manifest() -> None:
    m = parse_manifest(b"# nothing here\n")
    assert m.is_empty and m == Manifest()


def test_history_order_is_kept_and_h_seq_unchecked() -> None:
    m = parse_manifest(b"file a seq 5 type h\nfile b seq 1 type h\nfile c seq 3 type i\n")
    assert m.base is None
    assert m.history == (H("a", 5), H("b", 1))
    assert m.incrs == (I("c", 3),)


def test_negative_and_clamped_seq() -> None:
    # atoll: a sign is accepted, trailing garbage ignored
    m = parse_manifest(b"file a seq -4 type b\nfile b seq 12abc type h\n")
    assert m.base == B("a", -4)
    assert m.history == (H("b", 12),)


FATAL = [
    (b"", "Found an empty AOF manifest", None),
    (b"file a seq 1 type b\n\nfile b seq 1 type i\n", "Invalid AOF manifest file format", 2),
    (b"   \t \n", "Invalid AOF manifest file format", 1),
    (b"file a seq 1 type b", "The AOF manifest file contains too long line", None),
    (b"file a seq 0 type b\n", "Invalid AOF manifest file format", 1),
    (b"file a seq x type b\n", "Invalid AOF manifest file format", 1),
    (b"file a seq 1 type b extra\n", "Invalid AOF manifest file format", 1),
    (b"file a seq 1\n", "Invalid AOF manifest file format", 1),
    (b"file a seq 1 typo b\n", "Invalid AOF manifest file format", 1),
    (b'file a seq 1 type ""\n', "Invalid AOF manifest file format", 1),
    (b'file "a seq 1 type b\n', "Invalid AOF manifest file format", 1),
    (b'file "a"b seq 1 type b\n', "Invalid AOF manifest file format", 1),
    (b"file 'a seq 1 type b\n", "Invalid AOF manifest file format", 1),
    (b"file dir/a seq 1 type b\n", "File can't be a path, just a filename", 1),
    (b"file a\\b seq 1 type b\n", "File can't be a path, just a filename", 1),
    (b"file a seq 1 type b\nfile b seq 2 type b\n", "Found duplicate base file information", 2),
    (b"file a seq 2 type i\nfile b seq 2 type i\n", "Found a non-monotonic sequence number", 2),
    (b"file a seq 3 type i\nfile b seq 2 type i\n", "Found a non-monotonic sequence number", 2),
    (b"file a seq -1 type i\n", "Found a non-monotonic sequence number", 1),
    (b"file a seq 1 type x\n", "Unknown AOF file type", 1),
    (b"file a seq 1 type B\n", "Unknown AOF file type", 1),
]


@pytest.mark.parametrize(("data", "reason", "linenum"), FATAL)
def test_fatal(data: bytes, reason: str, linenum: int | None) -> None:
    with pytest.raises(ManifestError) as ei:
        parse_manifest(data)
    assert ei.value.reason == reason
    assert ei.value.linenum == linenum
    lines = ei.value.log_lines()
    assert lines[0] == "\n*** FATAL AOF MANIFEST FILE ERROR ***\n"
    assert lines[-1] == reason + "\n"
    if linenum is not None:
        assert lines[1] == f"Reading the manifest file, at line {linenum}\n"
        assert lines[2].startswith(">>> '")


def test_line_length_limit() -> None:
    # fgets(buf, 1025): a line of 1024 bytes including its newline is fine
    name = b"n" * (1024 - len(b"file  seq 1 type b\n"))
    line = b"file " + name + b" seq 1 type b\n"
    assert len(line) == 1024
    assert parse_manifest(line).base == B(name.decode(), 1)
    with pytest.raises(ManifestError, match="too long line"):
        parse_manifest(b"file x" + name + b" seq 1 type b\n")


def test_long_comment_continues_as_a_line() -> None:
    # a '#' line longer than 1024 bytes: fgets returns the rest as a new "line"
    data = b"#" + b"c" * 1100 + b"\nfile a seq 1 type b\n"
    with pytest.raises(ManifestError) as ei:
        parse_manifest(data)
    assert ei.value.reason == "Invalid AOF manifest file format"
    assert ei.value.linenum == 2


def test_split_args_like_sdssplitargs() -> None:
    assert split_args(b"a b\tc") == [b"a", b"b", b"c"]
    assert split_args(b'"a b" "\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\"q"') == [
        b"a b",
        b'AJ\n\r\t\x08\x07\\"q',
    ]
    assert split_args(b"'it\\'s' '\\n'") == [b"it's", b"\\n"]
    assert split_args(b'ab"c d"e') is None  # closing quote followed by a non-blank
    assert split_args(b'ab"c d"') == [b"abc d"]
    assert split_args(b'"unterminated') is None
    assert split_args(b"") == []
    assert split_args(b'"\\xZZ"') == [b"xZZ"]


def test_format_order_and_quoting() -> None:
    m = Manifest(
        base=B("b.rdb", 3),
        history=(H("old.aof", 1),),
        incrs=(I("with space.aof", 4), I("q\"'\n\xff", 5)),
    )
    text = format_manifest(m)
    assert text == (
        b"file b.rdb seq 3 type b\n"
        b"file old.aof seq 1 type h\n"
        b'file "with space.aof" seq 4 type i\n'
        b'file "q\\"\'\\n\\xc3\\xbf" seq 5 type i\n'
    )
    back = parse_manifest(text)
    assert back.base == m.base and back.history == m.history and back.incrs == m.incrs


def test_repr_bytes() -> None:
    assert repr_bytes(b"a\x01\x7f\x80 ") == b'"a\\x01\\x7f\\x80 "'


names = st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\\" not in b)


@settings(max_examples=200, deadline=None)
@given(st.lists(names, min_size=1, max_size=6), st.booleans())
def test_round_trip_any_names(raw_names: list[bytes], with_base: bool) -> None:
    infos = [n.split(b"\0")[0] or b"x" for n in raw_names]
    decoded = [n.decode("utf-8", "surrogateescape") for n in infos]
    base = B(decoded[0], 1) if with_base else None
    rest = decoded[1:] if with_base else decoded
    incrs = tuple(I(n, i + 1) for i, n in enumerate(rest))
    m = Manifest(base, (), incrs, 1 if with_base else 0, len(incrs))
    if m.is_empty:
        return
    assert parse_manifest(format_manifest(m)) == m


# -------------------------------------------------------------------- names


def test_names() -> None:
    assert base_name("appendonly.aof", 1, rdb=True) == "appendonly.aof.1.base.rdb"
    assert base_name("appendonly.aof", 2, rdb=False) == "appendonly.aof.2.base.aof"
    assert incr_name("appendonly.aof", 3) == "appendonly.aof.3.incr.aof"
    assert manifest_name("appendonly.aof") == "appendonly.aof.manifest"
    assert temp_manifest_name("appendonly.aof") == "temp-appendonly.aof.manifest"
    assert temp_incr_name("appendonly.aof") == "temp-appendonly.aof.incr"
    assert temp_rewrite_name(42) == "temp-rewriteaof-bg-42.aof"


# -------------------------------------------------------------------- transitions


def test_startup_on_empty_dataset() -> None:
    # aofOpenIfNeededOnServerStart: empty manifest -> base 1 (+ incr 1)
    m, base = new_base(Manifest(), "appendonly.aof", rdb=True)
    m, incr = last_incr(m, "appendonly.aof")
    assert format_manifest(m) == (
        b"file appendonly.aof.1.base.rdb seq 1 type b\n"
        b"file appendonly.aof.1.incr.aof seq 1 type i\n"
    )
    assert (base.name, incr.name) == ("appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof")
    # restarting appends to the same incr
    assert last_incr(m, "appendonly.aof") == (m, incr)


def test_rewrite_cycle_matches_redis() -> None:
    m = parse_manifest(
        b"file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    )
    m, incr2 = start_rewrite(m, "appendonly.aof")
    assert incr2 == I("appendonly.aof.2.incr.aof", 2)
    assert [ai.name for ai in m.incrs] == ["appendonly.aof.1.incr.aof", "appendonly.aof.2.incr.aof"]
    m, base, new_i = finish_rewrite(m, "appendonly.aof", rdb=False)
    assert new_i is None
    assert base == B("appendonly.aof.2.base.aof", 2)
    assert format_manifest(m) == (
        b"file appendonly.aof.2.base.aof seq 2 type b\n"
        b"file appendonly.aof.1.incr.aof seq 1 type h\n"
        b"file appendonly.aof.1.base.aof seq 1 type h\n"
        b"file appendonly.aof.2.incr.aof seq 2 type i\n"
    )
    # the corpus "2-after-rewrite" manifest is what remains after the history GC
    after = (
        CORPUS
        / "aof/generated-redis-7.0.15/plain/2-after-rewrite/appendonlydir"
        / "appendonly.aof.manifest"
    )
    if after.is_file():
        assert format_manifest(drop_history(m)) == after.read_bytes()


def test_several_failed_rewrites_then_success() -> None:
    m = Manifest(B("p.1.base.rdb", 1), (), (I("p.1.incr.aof", 1),), 1, 1)
    m, _ = start_rewrite(m, "p")  # rewrite failed, incr 2 stays
    m, _ = start_rewrite(m, "p")  # incr 3
    m, base, _ = finish_rewrite(m, "p", rdb=True)
    assert base == B("p.2.base.rdb", 2)
    # Redis puts the old base at the head of the history, then the incrs before it
    assert m.history == (H("p.1.incr.aof", 1), H("p.2.incr.aof", 2), H("p.1.base.rdb", 1))
    assert m.incrs == (I("p.3.incr.aof", 3),)


def test_rewrite_while_turning_aof_on() -> None:
    # AOF_WAIT_REWRITE: the temp incr becomes a new incr, previous incrs are history
    m = Manifest(B("p.1.base.rdb", 1), (), (I("p.1.incr.aof", 1),), 1, 1)
    m, base, incr = finish_rewrite(m, "p", rdb=True, wait_rewrite=True)
    assert base == B("p.2.base.rdb", 2)
    assert incr == I("p.2.incr.aof", 2)
    assert m.incrs == (incr,)
    assert m.history == (H("p.1.incr.aof", 1), H("p.1.base.rdb", 1))


def test_rewrite_with_aof_off_moves_every_incr() -> None:
    m = Manifest(B("p.1.base.rdb", 1), (), (I("p.1.incr.aof", 1), I("p.2.incr.aof", 2)), 1, 2)
    m2 = mark_incrs_as_history(m, keep_last=False)
    assert m2.incrs == ()
    assert m2.history == (H("p.1.incr.aof", 1), H("p.2.incr.aof", 2))
    assert mark_incrs_as_history(Manifest(), keep_last=True) == Manifest()


def test_new_incr_numbering_follows_loaded_incrs() -> None:
    m = parse_manifest(b"file a seq 3 type b\nfile x seq 7 type i\n")
    assert new_incr(m, "p")[1] == I("p.8.incr.aof", 8)
    assert new_base(m, "p", rdb=False)[1] == B("p.4.base.aof", 4)


def test_legacy_upgrade() -> None:
    m = upgrade_from_legacy(Manifest(), "appendonly.aof")
    assert format_manifest(m) == b"file appendonly.aof seq 1 type b\n"
    kw = {"dir_exists": True, "legacy_exists": True, "base_in_dir": False}
    assert needs_legacy_upgrade(None, "appendonly.aof", **{**kw, "dir_exists": False})
    assert needs_legacy_upgrade(None, "appendonly.aof", **kw)
    assert needs_legacy_upgrade(Manifest(), "appendonly.aof", **kw)
    assert needs_legacy_upgrade(m, "appendonly.aof", **kw)
    assert not needs_legacy_upgrade(m, "appendonly.aof", **{**kw, "base_in_dir": True})
    full = Manifest(B("appendonly.aof.1.base.rdb", 1), (), (I("appendonly.aof.1.incr.aof", 1),))
    assert not needs_legacy_upgrade(full, "appendonly.aof", **kw)
    assert not needs_legacy_upgrade(None, "appendonly.aof", **{**kw, "legacy_exists": False})
