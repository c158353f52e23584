"""Connection commands: PING ECHO QUIT RESET AUTH HELLO SELECT CLIENT."""

from __future__ import annotations

import time
from typing import Any

from ember import __version__, errors
from ember.commands.args import parse_int
from ember.commands.registry import Flag, command, container
from ember.errors import CommandError
from ember.protocol.resp import OK, PONG, Status, Verbatim
from ember.server.client import NO_REPLY, Client
from ember.server.server import REDIS_VERSION

G = "connection"
F_CONN = Flag.LOADING | Flag.STALE | Flag.FAST


@command("ping", -1, Flag.FAST | Flag.SENTINEL, group=G, summary="Returns the server's liveliness response.")
def ping(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 2:
        raise errors.wrong_args("ping")
    if (c.channels or c.patterns or c.shard_channels) and not c.resp3:
        return [b"pong", argv[1] if len(argv) == 2 else b""]
    if len(argv) == 2:
        return argv[1]
    return PONG


@command("echo", 2, Flag.FAST, group=G, summary="Returns the given string.")
def echo(c: Client, argv: list[bytes]) -> Any:
    return argv[1]


@command("quit", -1, Flag.ALLOW_BUSY | Flag.NO_AUTH | F_CONN, group=G, summary="Closes the connection.")
def quit_(c: Client, argv: list[bytes]) -> Any:
    c.reply(OK)
    c.close_after_reply = True
    return NO_REPLY


@command("reset", 1, Flag.NOSCRIPT | Flag.NO_AUTH | Flag.ALLOW_BUSY | F_CONN, group=G, since="6.2.0", summary="Resets the connection.")
def reset(c: Client, argv: list[bytes]) -> Any:
    from ember.server.pubsub import unsubscribe_all

    c.in_multi = False
    c.multi_queue = []
    c.multi_error = False
    c.unwatch_all()
    unsubscribe_all(c)
    if c in c.server.monitors:
        c.server.monitors.remove(c)
    c.monitor = False
    c.db = c.server.dbs[0]
    c.resp3 = False
    c.name = b""
    c.reply_mode = 0
    c.no_evict = False
    c.authenticated = not c.server.config.values["requirepass"]
    return Status("RESET")


def _check_password(c: Client, user: bytes | None, password: bytes) -> None:
    required = c.server.config.values["requirepass"]
    if user is not None and user != b"default":
        raise CommandError(errors.WRONGPASS)
    if not required:
        if user is None:
            raise CommandError(
                "ERR AUTH <password> called without any password configured for the default "
                "user. Are you sure your configuration is correct?"
            )
        return
    if password != required.encode():
        raise CommandError(errors.WRONGPASS)


@command("auth", -2, Flag.NOSCRIPT | Flag.NO_AUTH | Flag.SENTINEL | F_CONN, group=G, summary="Authenticates the connection.")
def auth(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise CommandError(errors.SYNTAX)
    if len(argv) == 2:
        _check_password(c, None, argv[1])
    else:
        _check_password(c, argv[1], argv[2])
    c.authenticated = True
    return OK


@command("hello", -1, Flag.NOSCRIPT | Flag.NO_AUTH | Flag.SENTINEL | F_CONN, group=G, since="6.0.0", summary="Handshakes with the Redis server.")
def hello(c: Client, argv: list[bytes]) -> Any:
    proto = None
    i = 1
    if len(argv) >= 2:
        try:
            proto = parse_int(argv[1])
        except CommandError:
            raise CommandError("ERR Protocol version is not an integer or out of range") from None
        i = 2
        if proto < 2 or proto > 3:
            raise CommandError("NOPROTO unsupported protocol version")
    setname = None
    while i < len(argv):
        opt = argv[i].lower()
        more = len(argv) - i - 1
        if opt == b"auth" and more >= 2:
            _check_password(c, argv[i + 1], argv[i + 2])
            c.authenticated = True
            i += 3
        elif opt == b"setname" and more >= 1:
            setname = argv[i + 1]
            _validate_name(setname)
            i += 2
        else:
            raise CommandError(f"ERR Syntax error in HELLO option '{argv[i].decode(errors='replace')}'")
    if not c.authenticated:
        raise CommandError(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
            "select the RESP protocol version at the same time"
        )
    if setname is not None:
        c.name = setname
    if proto is not None:
        c.resp3 = proto == 3
    return {
        b"server": b"redis",
        b"version": REDIS_VERSION.encode(),
        b"proto": 3 if c.resp3 else 2,
        b"id": c.id,
        b"mode": b"standalone",
        b"role": b"master",
        b"modules": [],
    }


@command("select", 2, Flag.LOADING | Flag.STALE | Flag.FAST, group=G, summary="Changes the selected database.")
def select(c: Client, argv: list[bytes]) -> Any:
    try:
        idx = parse_int(argv[1])
    except CommandError:
        raise CommandError("ERR value is not an integer or out of range") from None
    if idx < 0 or idx >= len(c.server.dbs):
        raise CommandError(errors.DB_INDEX_RANGE)
    c.db = c.server.dbs[idx]
    return OK


# ---------------------------------------------------------------------------- CLIENT

container("client", G, "2.4.0", "A container for client connection commands.")
CF = Flag.NOSCRIPT | Flag.LOADING | Flag.STALE


def _validate_name(name: bytes) -> None:
    for ch in name:
        if ch < 33 or ch > 126:
            raise CommandError("ERR Client names cannot contain spaces, newlines or special characters.")


def client_info_line(c: Client) -> str:
    now = time.monotonic()
    flags = ""
    if c.blocked is not None:
        flags += "b"
    if c.in_multi:
        flags += "x"
    if c.dirty_cas:
        flags += "d"
    if c.subscriptions_count():
        flags += "P"
    if c.monitor:
        flags += "O"
    if c.close_after_reply:
        flags += "c"
    if c.no_evict:
        flags += "e"
    if c.unix:
        flags += "U"
    flags = flags or "N"
    qbuf = c.parser.pending
    obl = c.transport.get_write_buffer_size() if c.transport is not None else 0
    return (
        f"id={c.id} addr={c.addr} laddr={c.laddr} fd=8 name={c.name.decode(errors='replace')} "
        f"age={int(now - c.created)} idle={int(now - c.last_interaction)} flags={flags} "
        f"db={c.db.id} sub={len(c.channels)} psub={len(c.patterns)} ssub={len(c.shard_channels)} "
        f"multi={len(c.multi_queue) if c.in_multi else -1} qbuf={qbuf} qbuf-free=0 argv-mem=0 "
        f"multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem={obl} tot-mem={obl + qbuf} events=r "
        f"cmd={c.last_cmd.decode()} user=default redir=-1 resp={3 if c.resp3 else 2}"
    )


@command("id", 2, CF, parent="client", group=G, since="5.0.0", summary="Returns the unique client ID of the connection.")
def client_id(c: Client, argv: list[bytes]) -> Any:
    return c.id


@command("setname", 3, CF, parent="client", group=G, since="2.6.9", summary="Sets the connection name.")
def client_setname(c: Client, argv: list[bytes]) -> Any:
    _validate_name(argv[2])
    c.name = argv[2]
    return OK


@command("getname", 2, CF, parent="client", group=G, since="2.6.9", summary="Returns the name of the connection.")
def client_getname(c: Client, argv: list[bytes]) -> Any:
    return c.name or None


@command("setinfo", 4, CF, parent="client", group=G, since="7.2.0", summary="Sets information specific to the client or connection.")
def client_setinfo(c: Client, argv: list[bytes]) -> Any:
    attr = argv[2].lower()
    if attr == b"lib-name":
        c.lib_name = argv[3]
    elif attr == b"lib-ver":
        c.lib_ver = argv[3]
    else:
        raise CommandError(f"ERR Unrecognized option '{argv[2].decode(errors='replace')}'")
    return OK


@command("info", 2, CF, parent="client", group=G, since="6.2.0", summary="Returns information about the connection.")
def client_info(c: Client, argv: list[bytes]) -> Any:
    return Verbatim((client_info_line(c) + "\n").encode())


@command("list", -2, CF | Flag.ADMIN, parent="client", group=G, since="2.4.0", summary="Lists open connections.")
def client_list(c: Client, argv: list[bytes]) -> Any:
    clients = list(c.server.clients.values())
    i = 2
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"type" and i + 1 < len(argv):
            t = argv[i + 1].lower()
            if t not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                raise CommandError(f"ERR Unknown client type '{argv[i + 1].decode(errors='replace')}'")
            if t == b"pubsub":
                clients = [x for x in clients if x.subscriptions_count()]
            elif t == b"normal":
                clients = [x for x in clients if not x.subscriptions_count()]
            else:
                clients = []
            i += 2
        elif opt == b"id" and i + 1 < len(argv):
            ids = set()
            for a in argv[i + 1 :]:
                try:
                    v = parse_int(a)
                except CommandError:
                    raise CommandError("ERR Invalid client ID") from None
                if v <= 0:
                    raise CommandError("ERR Invalid client ID")
                ids.add(v)
            clients = [x for x in clients if x.id in ids]
            break
        else:
            raise CommandError(errors.SYNTAX)
    text = "".join(client_info_line(x) + "\n" for x in clients)
    return Verbatim(text.encode())


@command("kill", -3, CF | Flag.ADMIN, parent="client", group=G, since="2.4.0", summary="Terminates open connections.")
def client_kill(c: Client, argv: list[bytes]) -> Any:
    srv = c.server
    if len(argv) == 3:
        addr = argv[2].decode(errors="replace")
        for x in list(srv.clients.values()):
            if x.addr == addr:
                _kill(c, x)
                return OK
        raise CommandError("ERR No such client")
    if len(argv) % 2 != 0:
        raise CommandError(errors.SYNTAX)
    filters: list[tuple[bytes, bytes]] = []
    skipme = True
    for i in range(2, len(argv), 2):
        k, v = argv[i].lower(), argv[i + 1]
        if k == b"skipme":
            if v.lower() not in (b"yes", b"no"):
                raise CommandError(errors.SYNTAX)
            skipme = v.lower() == b"yes"
        elif k in (b"id", b"addr", b"laddr", b"type", b"user", b"maxage"):
            if k == b"id":
                try:
                    if parse_int(v) <= 0:
                        raise CommandError("")
                except CommandError:
                    raise CommandError("ERR client-id should be greater than 0") from None
            if k == b"type" and v.lower() not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                raise CommandError(f"ERR Unknown client type '{v.decode(errors='replace')}'")
            filters.append((k, v))
        else:
            raise CommandError(errors.SYNTAX)
    killed = 0
    for x in list(srv.clients.values()):
        if x is c and skipme:
            continue
        ok = True
        for k, v in filters:
            if k == b"id" and x.id != int(v):
                ok = False
            elif k == b"addr" and x.addr != v.decode(errors="replace"):
                ok = False
            elif k == b"laddr" and x.laddr != v.decode(errors="replace"):
                ok = False
            elif k == b"type":
                t = v.lower()
                is_pub = bool(x.subscriptions_count())
                if (t == b"pubsub") != is_pub or t in (b"master", b"replica", b"slave"):
                    ok = False
            elif k == b"user" and v != b"default":
                ok = False
            elif k == b"maxage" and time.monotonic() - x.created < int(v):
                ok = False
        if ok:
            _kill(c, x)
            killed += 1
    return killed


def _kill(me: Client, target: Client) -> None:
    if target is me:
        me.close_after_reply = True
    else:
        target.close()


@command("pause", -3, CF | Flag.ADMIN, parent="client", group=G, since="3.0.0", summary="Suspends commands processing.")
def client_pause(c: Client, argv: list[bytes]) -> Any:
    try:
        ms = parse_int(argv[2])
    except CommandError:
        raise CommandError("ERR timeout is not an integer or out of range") from None
    if ms < 0:
        raise CommandError("ERR timeout is negative")
    mode = b"all"
    if len(argv) == 4:
        mode = argv[3].lower()
        if mode not in (b"write", b"all"):
            raise CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
    elif len(argv) > 4:
        raise CommandError(errors.SYNTAX)
    srv = c.server
    until = time.monotonic() + ms / 1000
    if until > srv.paused_until:
        srv.paused_until = until
    srv.pause_writes_only = mode == b"write"
    if srv.loop is not None:
        srv.loop.call_later(ms / 1000 + 0.001, lambda: srv.clients_paused(True))
    return OK


@command("unpause", 2, CF | Flag.ADMIN, parent="client", group=G, since="6.2.0", summary="Resumes processing of clients paused by CLIENT PAUSE.")
def client_unpause(c: Client, argv: list[bytes]) -> Any:
    c.server.unpause_clients()
    return OK


@command("no-evict", 3, CF | Flag.ADMIN, parent="client", group=G, since="7.0.0", summary="Sets the client eviction mode of the connection.")
def client_no_evict(c: Client, argv: list[bytes]) -> Any:
    v = argv[2].lower()
    if v not in (b"on", b"off"):
        raise CommandError(errors.SYNTAX)
    c.no_evict = v == b"on"
    return OK


@command("reply", 3, CF, parent="client", group=G, since="3.2.0", summary="Instructs the server whether to reply to commands.")
def client_reply(c: Client, argv: list[bytes]) -> Any:
    v = argv[2].lower()
    if v == b"on":
        c.reply_mode = 0
        return OK
    if v == b"off":
        c.reply_mode = 1
        return NO_REPLY
    if v == b"skip":
        if c.reply_mode == 0:
            c.reply_mode = 2
            return NO_REPLY_SKIP
        return NO_REPLY
    raise CommandError(errors.SYNTAX)


NO_REPLY_SKIP = NO_REPLY


@command("unblock", -3, CF | Flag.ADMIN, parent="client", group=G, since="5.0.0", summary="Unblocks a client blocked by a blocking command from a different connection.")
def client_unblock(c: Client, argv: list[bytes]) -> Any:
    try:
        cid = parse_int(argv[2])
    except CommandError:
        raise CommandError("ERR value is not an integer or out of range") from None
    use_error = False
    if len(argv) == 4:
        m = argv[3].lower()
        if m == b"error":
            use_error = True
        elif m != b"timeout":
            raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    elif len(argv) > 4:
        raise CommandError(errors.SYNTAX)
    target = c.server.clients.get(cid)
    if target is None or target.blocked is None:
        return 0
    if use_error:
        target.unblock(CommandError("UNBLOCKED client unblocked via CLIENT UNBLOCK"))
    else:
        target.unblock(target.blocked.timeout_reply)
    return 1


@command("help", 2, CF, parent="client", group=G, since="5.0.0", summary="Returns helpful text about the different subcommands.")
def client_help(c: Client, argv: list[bytes]) -> Any:
    lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ID", "    Return the ID of the current connection.",
        "INFO", "    Return information about the current client connection.",
        "KILL <ip:port>|<option> <value> [<option> <value> [...]]", "    Kill connections.",
        "LIST [options ...]", "    Return information about client connections.",
        "GETNAME", "    Return the name of the current connection.",
        "SETNAME <name>", "    Assign the name <name> to the current connection.",
        "PAUSE <timeout> [WRITE|ALL]", "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "UNPAUSE", "    Stop the current client pause, resuming traffic.",
        "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
        "NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client.",
        "HELP", "    Print this help.",
    ]
    return [Status(x) for x in lines]


__all__ = ["__version__"]
