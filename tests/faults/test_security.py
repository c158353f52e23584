"""Security defaults, compared with the real redis-server 7.0: protected mode, requirepass,
rename-command, enable-debug-command, enable-protected-configs.

Non-loopback clients: Redis 7.0's protected mode accepts only 127.0.0.1 and ::1 (exact
strings), so a client whose source address is 127.0.0.2 -- still the loopback interface,
nothing leaves the machine -- is a "remote" client for both servers. The tests bind the
client socket to 127.0.0.2 to get the real DENIED reply; the decision function is also
unit-tested.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import hiredis
import pytest

from tests.helpers.servers import ServerProcess

pytestmark = [pytest.mark.faults, pytest.mark.interop]

REMOTE = "127.0.0.2"  # a loopback-interface address that protected mode treats as remote


def can_bind_remote() -> bool:
    try:
        with socket.socket() as s:
            s.bind((REMOTE, 0))
        return True
    except OSError:
        return False


def request(
    port: int, payload: bytes, source: str = "127.0.0.1", replies: int = 1, timeout: float = 3.0
) -> list[object]:
    """Send raw bytes from ``source``; return the parsed replies (errors as "ERR:" strings)
    and "<closed>" when the server closed the connection first."""
    sk = socket.socket()
    sk.bind((source, 0))
    sk.settimeout(timeout)
    sk.connect(("127.0.0.1", port))
    sk.sendall(payload)
    reader = hiredis.Reader()
    out: list[object] = []
    try:
        while len(out) < replies:
            data = sk.recv(65536)
            if not data:
                out.append("<closed>")
                break
            reader.feed(data)
            while len(out) < replies:
                r = reader.gets()
                if r is False:
                    break
                out.append(f"ERR:{r}" if isinstance(r, hiredis.ReplyError) else r)
    except ConnectionResetError:
        out.append("<closed>")  # FIN or RST (unread request bytes): both mean closed
    except TimeoutError:
        out.append("<timeout>")
    finally:
        sk.close()
    return out


def cmd(*args: str | bytes) -> bytes:
    parts = [a.encode() if isinstance(a, str) else a for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


@contextlib.contextmanager
def both(
    tmp: Path, args: list[str], conf: str = ""
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    started = []
    try:
        for kind in ("ember", "redis"):
            d = tmp / kind
            d.mkdir(parents=True, exist_ok=True)
            conf_file = None
            if conf:
                conf_file = d / "test.conf"
                conf_file.write_text(conf)
            s = ServerProcess(
                kind, d, ["--save", "", "--appendonly", "no", *args], conf_file=conf_file
            )
            started.append(s.start(wait=False))
            wait_answering(s)
        yield started[0], started[1]
    finally:
        for s in started:
            s.stop()


def wait_answering(s: ServerProcess, timeout: float = 30.0) -> None:
    """Like ServerProcess.wait_ready, but a NOAUTH reply counts as up (requirepass)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert s.proc is not None and s.proc.poll() is None, s.log_text()
        try:
            if request(s.port, cmd("PING"), timeout=2)[0] in (
                b"PONG",
                "ERR:NOAUTH Authentication required.",
            ):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{s.kind} did not start:\n{s.log_text()}")


def same(
    e: ServerProcess, r: ServerProcess, payload: bytes, source: str = "127.0.0.1", replies: int = 1
) -> list[object]:
    with ThreadPoolExecutor(2) as pool:
        got, want = pool.map(lambda s: request(s.port, payload, source, replies), (e, r))
    assert got == want, f"{payload[:60]!r}: ember={got!r} redis={want!r}"
    return got


# ------------------------------------------------------------------------------ protected mode


needs_remote = pytest.mark.skipif(not can_bind_remote(), reason="cannot bind a client to 127.0.0.2")


@needs_remote
def test_protected_mode_denies_non_loopback_clients(tmp_path: Path) -> None:
    with both(tmp_path, ["--protected-mode", "yes"]) as (e, r):
        got = same(e, r, cmd("PING"), source=REMOTE, replies=2)
        assert isinstance(got[0], str) and got[0].startswith(
            "ERR:DENIED Redis is running in protected mode"
        )
        assert got[1] == "<closed>"
        assert same(e, r, cmd("PING")) == [b"PONG"]  # 127.0.0.1 is fine


@needs_remote
def test_protected_mode_off_or_password_lets_remote_clients_in(tmp_path: Path) -> None:
    with both(tmp_path / "off", ["--protected-mode", "no"]) as (e, r):
        assert same(e, r, cmd("PING"), source=REMOTE) == [b"PONG"]
    with both(tmp_path / "pass", ["--protected-mode", "yes", "--requirepass", "s3cret"]) as (e, r):
        assert same(e, r, cmd("PING"), source=REMOTE) == ["ERR:NOAUTH Authentication required."]
        assert same(e, r, cmd("AUTH", "s3cret") + cmd("PING"), source=REMOTE, replies=2) == [
            b"OK",
            b"PONG",
        ]


def test_protected_mode_decision() -> None:
    from ember.server.client import protected_mode_denies

    on = {"protected-mode": True, "requirepass": ""}
    assert protected_mode_denies(on, "127.0.0.2", False)
    assert protected_mode_denies(on, "10.0.0.1", False)
    assert protected_mode_denies(on, "::ffff:10.0.0.1", False)
    assert not protected_mode_denies(on, "127.0.0.1", False)
    assert not protected_mode_denies(on, "::1", False)
    assert not protected_mode_denies(on, "", True)  # unix socket
    assert not protected_mode_denies({**on, "requirepass": "x"}, "10.0.0.1", False)
    assert not protected_mode_denies({**on, "protected-mode": False}, "10.0.0.1", False)


# ------------------------------------------------------------------------------ requirepass


def test_requirepass_every_command_but_auth_and_hello(tmp_path: Path) -> None:
    with both(tmp_path, ["--requirepass", "s3cret"]) as (e, r):
        # the command table of each server, read after authenticating
        tables = [
            request(s.port, cmd("AUTH", "s3cret") + cmd("COMMAND"), replies=2)[1] for s in (e, r)
        ]
        ember_names = {row[0] for row in tables[0]}  # type: ignore[union-attr]
        checked = 0
        for row in tables[1]:  # type: ignore[union-attr]
            name, arity = row[0], row[1]
            if name not in ember_names or name in (b"quit", b"reset"):
                continue
            n = arity if arity > 0 else -arity
            argv = [name] + [b"x"] * (n - 1)
            if name in (b"debug", b"module"):
                # known difference: Redis refuses a disabled DEBUG/MODULE before the auth
                # check ("DEBUG command not allowed"); ember answers NOAUTH first
                assert request(e.port, cmd(*argv)) == ["ERR:NOAUTH Authentication required."]
                continue
            got = same(e, r, cmd(*argv))
            if name not in (b"auth", b"hello"):
                # NOAUTH (EXEC: EXECABORT ... NOAUTH); a container with a bad subcommand
                # is refused before the auth check, by both servers
                assert "NOAUTH Authentication required." in str(got[0]) or str(got[0]).startswith(
                    "ERR:ERR unknown subcommand"
                ), (name, got)
            checked += 1
        assert checked > 150
        same(e, r, cmd("AUTH", "wrong"))
        same(e, r, cmd("HELLO", "3"))
        same(e, r, cmd("HELLO", "2", "AUTH", "default", "wrong"))
        got = same(e, r, cmd("AUTH", "s3cret") + cmd("SET", "k", "v") + cmd("GET", "k"), replies=3)
        assert got == [b"OK", b"OK", b"v"]


# ------------------------------------------------------------------------------ rename-command


def test_rename_command(tmp_path: Path) -> None:
    conf = 'rename-command get myget\nrename-command flushall ""\nrename-command config cfg2\n'
    with both(tmp_path, [], conf=conf) as (e, r):
        assert same(e, r, cmd("SET", "k", "v") + cmd("MYGET", "k"), replies=2) == [b"OK", b"v"]
        assert str(same(e, r, cmd("GET", "k"))[0]).startswith("ERR:ERR unknown command 'GET'")
        assert str(same(e, r, cmd("FLUSHALL"))[0]).startswith("ERR:ERR unknown command 'FLUSHALL'")
        same(e, r, cmd("CONFIG", "GET", "maxmemory"))
        assert same(e, r, cmd("CFG2", "GET", "maxmemory")) == [[b"maxmemory", b"0"]]
        assert same(e, r, cmd("MYGET", "k")) == [b"v"]  # nothing was flushed


# ------------------------------------------------------------------------------ DEBUG / protected configs


@pytest.mark.parametrize("mode", ["no", "local"])
def test_enable_debug_command(mode: str, tmp_path: Path) -> None:
    args = ["--enable-debug-command", mode, "--protected-mode", "no"]
    with both(tmp_path, args) as (e, r):
        got = same(e, r, cmd("DEBUG", "SLEEP", "0"))
        if mode == "no":
            assert str(got[0]).startswith("ERR:ERR DEBUG command not allowed")
        else:
            assert got == [b"OK"]
            if can_bind_remote():
                assert str(same(e, r, cmd("DEBUG", "SLEEP", "0"), source=REMOTE)[0]).startswith(
                    "ERR:ERR DEBUG command not allowed"
                )


@pytest.mark.parametrize("mode", ["no", "local"])
def test_enable_protected_configs(mode: str, tmp_path: Path) -> None:
    args = ["--enable-protected-configs", mode, "--protected-mode", "no"]
    with both(tmp_path, args) as (e, r):
        for name, value in (("dir", str(tmp_path)), ("dbfilename", "other.rdb")):
            got = same(e, r, cmd("CONFIG", "SET", name, value))
            if mode == "no":
                assert str(got[0]).startswith(
                    "ERR:ERR CONFIG SET failed (possibly related to argument"
                ), got
            else:
                assert got == [b"OK"]
                if can_bind_remote():
                    same(e, r, cmd("CONFIG", "SET", name, value), source=REMOTE)
        same(e, r, cmd("CONFIG", "SET", "maxmemory", "0"))  # not protected: fine either way
