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


def _sub_syntax_error(argv: list[bytes]) -> CommandError:
    """``addReplySubcommandSyntaxError``: wrong argument count inside a subcommand."""
    return CommandError(
        f"ERR unknown subcommand or wrong number of arguments for "
        f"'{argv[1].decode(errors='replace')[:128]}'. Try {argv[0].decode(errors='replace').upper()} HELP."
    )


def help_reply(argv: list[bytes], lines: list[str]) -> list[Status]:
    """``addReplyHelp``: header with the command name as typed (upper case), the lines,
    then the standard HELP footer."""
    name = argv[0].decode(errors="replace").upper()
    return [
        Status(f"{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"),
        *(Status(x) for x in lines),
        Status("HELP"),
        Status("    Prints this help."),
    ]


@command(
    "ping",
    -1,
    Flag.FAST | Flag.SENTINEL,
    group=G,
    summary="Returns the server's liveliness response.",
)
def ping(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 2:
        raise errors.wrong_args("ping")
    if (c.channels or c.patterns or c.shard_channels) and not c.resp3:
        return [b"pong", argv[1] if len(argv) == 2 else b""]
    if len(argv) == 2:
        return argv[1]
    return PONG


@command(
    "echo", 2, Flag.FAST | Flag.LOADING | Flag.STALE, group=G, summary="Returns the given string."
)
def echo(c: Client, argv: list[bytes]) -> Any:
    return argv[1]


@command(
    "quit",
    -1,
    Flag.ALLOW_BUSY | Flag.NOSCRIPT | Flag.NO_AUTH | F_CONN,
    group=G,
    summary="Closes the connection.",
)
def quit_(c: Client, argv: list[bytes]) -> Any:
    c.reply(OK)
    c.close_after_reply = True
    return NO_REPLY


def set_authenticated(c: Client, value: bool) -> None:
    c.authenticated = value
    c.parser.auth_required = not value


@command(
    "reset",
    1,
    Flag.NOSCRIPT | Flag.NO_AUTH | Flag.ALLOW_BUSY | F_CONN,
    group=G,
    since="6.2.0",
    summary="Resets the connection.",
)
def reset(c: Client, argv: list[bytes]) -> Any:
    """``clearClientConnectionState``: back to a fresh connection (auth included)."""
    from ember.server.pubsub import unsubscribe_all

    if c in c.server.monitors:
        c.server.monitors.remove(c)
    c.monitor = False
    c.db = c.server.dbs[0]
    c.resp3 = False
    set_authenticated(c, not c.server.config.values["requirepass"])
    c.in_multi = False
    c.multi_queue = []
    c.multi_error = False
    c.unwatch_all()
    unsubscribe_all(c)
    c.name = b""
    c.reply_mode = 0
    c.no_evict = False
    return Status("RESET")


def _authenticate(c: Client, user: bytes, password: bytes) -> None:
    """``ACLAuthenticateUser`` for the only user ember has, ``default``."""
    required = c.server.config.values["requirepass"]
    if user != b"default" or (required and password != required.encode(errors="surrogateescape")):
        c.server.log("verbose", "AUTH failed: WRONGPASS")
        raise CommandError(errors.WRONGPASS)
    set_authenticated(c, True)


@command(
    "auth",
    -2,
    Flag.NOSCRIPT | Flag.NO_AUTH | Flag.SENTINEL | Flag.ALLOW_BUSY | F_CONN,
    group=G,
    summary="Authenticates the connection.",
)
def auth(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise CommandError(errors.SYNTAX)
    if len(argv) == 2:
        if not c.server.config.values["requirepass"]:
            raise CommandError(
                "ERR AUTH <password> called without any password configured for the default "
                "user. Are you sure your configuration is correct?"
            )
        _authenticate(c, b"default", argv[1])
    else:
        _authenticate(c, argv[1], argv[2])
    return OK


@command(
    "hello",
    -1,
    Flag.NOSCRIPT | Flag.NO_AUTH | Flag.SENTINEL | Flag.ALLOW_BUSY | F_CONN,
    group=G,
    since="6.0.0",
    summary="Handshakes with the Redis server.",
)
def hello(c: Client, argv: list[bytes]) -> Any:
    proto = 0
    i = 1
    if len(argv) >= 2:
        proto = parse_int(argv[1], "ERR Protocol version is not an integer or out of range")
        i = 2
        if proto < 2 or proto > 3:
            raise CommandError("NOPROTO unsupported protocol version")
    user = password = setname = None
    while i < len(argv):
        opt = argv[i].lower()
        more = len(argv) - i - 1
        if opt == b"auth" and more >= 2:
            user, password = argv[i + 1], argv[i + 2]
            i += 3
        elif opt == b"setname" and more >= 1:
            setname = argv[i + 1]
            i += 2
        else:
            raise CommandError(
                f"ERR Syntax error in HELLO option '{argv[i].decode(errors='replace')}'"
            )
    if user is not None and password is not None:
        _authenticate(c, user, password)
    if not c.authenticated:
        raise CommandError(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
            "select the RESP protocol version at the same time"
        )
    if setname is not None:
        _validate_name(setname)
        c.name = setname
    if proto:
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


@command(
    "select",
    2,
    Flag.LOADING | Flag.STALE | Flag.FAST,
    group=G,
    summary="Changes the selected database.",
)
def select(c: Client, argv: list[bytes]) -> Any:
    idx = parse_int(argv[1])
    if idx < -(1 << 31) or idx >= 1 << 31:  # getIntFromObjectOrReply
        raise CommandError(
            "ERR value is out of range, value must between -2147483648 and 2147483647"
        )
    if idx < 0 or idx >= len(c.server.dbs):
        raise CommandError(errors.DB_INDEX_RANGE)
    c.db = c.server.dbs[idx]
    return OK


# ---------------------------------------------------------------------------- CLIENT

container("client", G, "2.4.0", "A container for client connection commands.")
CF = Flag.NOSCRIPT | Flag.LOADING | Flag.STALE
_CLIENT_TYPES = (b"normal", b"master", b"replica", b"slave", b"pubsub")


def _validate_name(name: bytes) -> None:
    for ch in name:
        if ch < 33 or ch > 126:
            raise CommandError(
                "ERR Client names cannot contain spaces, newlines or special characters."
            )


def client_type(c: Client) -> bytes:
    """``getClientType``: ember has no replication links, so normal or pubsub."""
    return b"pubsub" if c.subscriptions_count() else b"normal"


def client_info_line(c: Client) -> str:
    """One ``CLIENT LIST`` line, fields and flag letters in Redis 7.0's order."""
    now = time.monotonic()
    flags = ""
    if c.monitor:
        flags += "O"
    if c.subscriptions_count():
        flags += "P"
    if c.in_multi:
        flags += "x"
    if c.blocked is not None or c.paused:
        flags += "b"
    if c.dirty_cas:
        flags += "d"
    if c.close_after_reply:
        flags += "c"
    if c.unix:
        flags += "U"
    if c.no_evict:
        flags += "e"
    qbuf = c.parser.pending
    omem = c.transport.get_write_buffer_size() if c.transport is not None else 0
    multi = len(c.multi_queue) if c.in_multi else -1
    return (
        f"id={c.id} addr={c.addr} laddr={c.laddr} fd={_fileno(c)} name={c.name.decode(errors='replace')} "
        f"age={int(now - c.created)} idle={int(now - c.last_interaction)} flags={flags or 'N'} "
        f"db={c.db.id} sub={len(c.channels)} psub={len(c.patterns)} ssub={len(c.shard_channels)} "
        f"multi={multi} qbuf={qbuf} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 "
        f"oll=0 omem={omem} tot-mem={omem + qbuf} events=r cmd={c.last_cmd.decode()} "
        f"user=default redir=-1 resp={3 if c.resp3 else 2}"
    )


def _fileno(c: Client) -> int:
    sock = c.transport.get_extra_info("socket") if c.transport is not None else None
    try:
        return int(sock.fileno()) if sock is not None else -1
    except (OSError, ValueError):
        return -1


@command(
    "id",
    2,
    CF,
    parent="client",
    group=G,
    since="5.0.0",
    summary="Returns the unique client ID of the connection.",
)
def client_id(c: Client, argv: list[bytes]) -> Any:
    return c.id


@command(
    "setname", 3, CF, parent="client", group=G, since="2.6.9", summary="Sets the connection name."
)
def client_setname(c: Client, argv: list[bytes]) -> Any:
    _validate_name(argv[2])
    c.name = argv[2]
    return OK


@command(
    "getname",
    2,
    CF,
    parent="client",
    group=G,
    since="2.6.9",
    summary="Returns the name of the connection.",
)
def client_getname(c: Client, argv: list[bytes]) -> Any:
    return c.name or None


@command(
    "info",
    2,
    CF,
    parent="client",
    group=G,
    since="6.2.0",
    summary="Returns information about the connection.",
)
def client_info(c: Client, argv: list[bytes]) -> Any:
    return Verbatim((client_info_line(c) + "\n").encode())


@command(
    "list",
    -2,
    CF | Flag.ADMIN,
    parent="client",
    group=G,
    since="2.4.0",
    summary="Lists open connections.",
)
def client_list(c: Client, argv: list[bytes]) -> Any:
    clients = list(c.server.clients.values())
    if len(argv) == 4 and argv[2].lower() == b"type":
        t = argv[3].lower()
        if t not in _CLIENT_TYPES:
            raise CommandError(f"ERR Unknown client type '{argv[3].decode(errors='replace')}'")
        clients = [x for x in clients if client_type(x) == t]
    elif len(argv) > 3 and argv[2].lower() == b"id":
        by_id = c.server.clients
        clients = []
        for a in argv[3:]:
            cl = by_id.get(parse_int(a, "ERR Invalid client ID"))
            if cl is not None:
                clients.append(cl)
    elif len(argv) != 2:
        raise CommandError(errors.SYNTAX)
    text = "".join(client_info_line(x) + "\n" for x in clients)
    return Verbatim(text.encode())


@command(
    "kill",
    -3,
    CF | Flag.ADMIN,
    parent="client",
    group=G,
    since="2.4.0",
    summary="Terminates open connections.",
)
def client_kill(c: Client, argv: list[bytes]) -> Any:
    addr = laddr = ctype = None
    cid = 0
    skipme = True
    if len(argv) == 3:
        addr = argv[2]  # old form: CLIENT KILL addr:port (may kill the caller)
        skipme = False
    else:
        i = 2
        while i < len(argv):
            k = argv[i].lower()
            if i + 1 >= len(argv):
                raise CommandError(errors.SYNTAX)
            v = argv[i + 1]
            if k == b"id":
                cid = parse_int(v, "ERR client-id should be greater than 0")
                if cid < 1:
                    raise CommandError("ERR client-id should be greater than 0")
            elif k == b"type":
                ctype = v.lower()
                if ctype not in _CLIENT_TYPES:
                    raise CommandError(f"ERR Unknown client type '{v.decode(errors='replace')}'")
            elif k == b"addr":
                addr = v
            elif k == b"laddr":
                laddr = v
            elif k == b"user":
                if v != b"default":
                    raise CommandError(f"ERR No such user '{v.decode(errors='replace')}'")
            elif k == b"skipme":
                if v.lower() == b"yes":
                    skipme = True
                elif v.lower() == b"no":
                    skipme = False
                else:
                    raise CommandError(errors.SYNTAX)
            else:
                raise CommandError(errors.SYNTAX)
            i += 2
    killed = 0
    for x in list(c.server.clients.values()):
        if addr is not None and x.addr.encode() != addr:
            continue
        if laddr is not None and x.laddr.encode() != laddr:
            continue
        if ctype is not None and client_type(x) != (b"replica" if ctype == b"slave" else ctype):
            continue
        if cid and x.id != cid:
            continue
        if x is c and skipme:
            continue
        if x is c:
            c.close_after_reply = True
        else:
            x.close()
        killed += 1
    if len(argv) == 3:
        if not killed:
            raise CommandError("ERR No such client")
        return OK
    return killed


@command(
    "pause",
    -3,
    CF | Flag.ADMIN,
    parent="client",
    group=G,
    since="2.9.50",
    summary="Suspends commands processing.",
)
def client_pause(c: Client, argv: list[bytes]) -> Any:
    """Hold other clients' commands (all, or only writes) for ``timeout`` ms.

    Like ``pauseClients``: a new pause never shortens the current one nor turns an ALL
    pause into a WRITE pause.
    """
    if len(argv) > 4:
        raise _sub_syntax_error(argv)
    write_only = False
    if len(argv) == 4:
        mode = argv[3].lower()
        if mode == b"write":
            write_only = True
        elif mode != b"all":
            raise CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
    ms = parse_int(argv[2], "ERR timeout is not an integer or out of range")
    if ms < 0:
        raise CommandError("ERR timeout is negative")
    if ms > (1 << 63) - 1 - time.time_ns() // 1_000_000:
        return OK  # the end time overflows (wraps into the past in Redis): no pause
    srv = c.server
    now = time.monotonic()
    until = now + ms / 1000
    active = srv.paused_until > now
    srv.pause_writes_only = write_only and (not active or srv.pause_writes_only)
    if until > srv.paused_until:
        srv.paused_until = until
    if srv.loop is not None and ms:
        srv.loop.call_later(ms / 1000 + 0.001, lambda: srv.clients_paused(True))
    return OK


@command(
    "unpause",
    2,
    CF | Flag.ADMIN,
    parent="client",
    group=G,
    since="6.2.0",
    summary="Resumes processing of clients paused by CLIENT PAUSE.",
)
def client_unpause(c: Client, argv: list[bytes]) -> Any:
    c.server.unpause_clients()
    return OK


@command(
    "no-evict",
    3,
    CF | Flag.ADMIN,
    parent="client",
    group=G,
    since="7.0.0",
    summary="Sets the client eviction mode of the connection.",
)
def client_no_evict(c: Client, argv: list[bytes]) -> Any:
    v = argv[2].lower()
    if v not in (b"on", b"off"):
        raise CommandError(errors.SYNTAX)
    c.no_evict = v == b"on"
    return OK


@command(
    "reply",
    3,
    CF,
    parent="client",
    group=G,
    since="3.2.0",
    summary="Instructs the server whether to reply to commands.",
)
def client_reply(c: Client, argv: list[bytes]) -> Any:
    v = argv[2].lower()
    if v == b"on":
        c.reply_mode = 0
        return OK
    if v == b"off":
        c.reply_mode = 1
        return NO_REPLY
    if v == b"skip":
        if c.reply_mode != 1:
            c.reply_mode = 2  # the next reply is dropped
        return NO_REPLY
    raise CommandError(errors.SYNTAX)


@command(
    "unblock",
    -3,
    CF | Flag.ADMIN,
    parent="client",
    group=G,
    since="5.0.0",
    summary="Unblocks a client blocked by a blocking command from a different connection.",
)
def client_unblock(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 4:
        raise _sub_syntax_error(argv)
    use_error = False
    if len(argv) == 4:
        m = argv[3].lower()
        if m == b"error":
            use_error = True
        elif m != b"timeout":
            raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    cid = parse_int(argv[2])
    target = c.server.clients.get(cid)
    if target is None or target.blocked is None:
        return 0
    if use_error:
        target.unblock(CommandError("UNBLOCKED client unblocked via CLIENT UNBLOCK"))
    else:
        target.unblock(target.blocked.timeout_reply)
    return 1


@command(
    "getredir",
    2,
    CF,
    parent="client",
    group=G,
    since="6.0.0",
    summary="Returns the client ID to which the connection's tracking notifications are redirected.",
)
def client_getredir(c: Client, argv: list[bytes]) -> Any:
    return -1  # client side caching (CLIENT TRACKING) is not implemented


@command(
    "trackinginfo",
    2,
    CF,
    parent="client",
    group=G,
    since="6.2.0",
    summary="Returns information about server-assisted client-side caching for the connection.",
)
def client_trackinginfo(c: Client, argv: list[bytes]) -> Any:
    return {b"flags": [b"off"], b"redirect": -1, b"prefixes": []}


_CLIENT_HELP = [
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
]


@command(
    "help",
    2,
    Flag.LOADING | Flag.STALE,
    parent="client",
    group=G,
    since="5.0.0",
    summary="Returns helpful text about the different subcommands.",
)
def client_help(c: Client, argv: list[bytes]) -> Any:
    return help_reply(argv, _CLIENT_HELP)


__all__ = ["__version__", "help_reply"]
