"""The scripting engine: Lua VMs, the EVAL script cache, running scripts and functions.

Theory of operation
-------------------
Each VM (:class:`LuaVM`) is a lupa ``lua51`` runtime (Lua 5.1, like Redis) prepared by
``prelude.lua``: user code runs in a readonly sandbox environment; ``redis.call`` and
friends call back into :meth:`ScriptingEngine.lua_call_raise`, which runs the command through
the dispatcher's ``Client.call`` on a transport-less *script client* (the caller's db;
RESP2 unless ``redis.setresp(3)``), after the checks Redis's ``scriptCall`` does
(unknown command, arity, ``noscript``, writes in read-only scripts, OOM / MISCONF).
Each nested call records its own propagation (the effects), so a script is propagated
as the write commands it ran, wrapped in MULTI/EXEC when there are several; the EVAL /
FCALL itself never is.

Busy scripts: a Lua count hook calls :meth:`ScriptingEngine.hook_check` every
``HOOK_COUNT`` instructions. Past ``busy-reply-threshold`` ms the script is *timed out*:
the hook then serves the other clients directly from their sockets (see
:mod:`ember.scripting.busy`) while the event loop stays blocked in the script, so
``SCRIPT KILL`` / ``FUNCTION KILL`` / ``SHUTDOWN NOSAVE`` work and every other command
gets ``-BUSY`` (checked by ``Client.execute``). A killed script raises an error on every
line (like Redis's line hook) so that ``pcall`` cannot swallow it.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lupa import lua51

from ember import errors
from ember.commands.registry import Flag
from ember.errors import CommandError
from ember.protocol.resp import Raw, split_args
from ember.scripting.convert import Converter
from ember.scripting.libs import Libs

if TYPE_CHECKING:
    from ember.server.client import Client
    from ember.server.server import Server

HOOK_COUNT = 100_000
PRELUDE = (Path(__file__).with_name("prelude.lua")).read_text()
VERSION = "7.0.15"
VERSION_NUM = 0x07000F

# script flags (shebang / register_function)
NO_WRITES = 1
ALLOW_OOM = 2
ALLOW_STALE = 4
NO_CLUSTER = 8
ALLOW_CROSS_SLOT = 16
EVAL_COMPAT = 32
FLAG_NAMES = [
    (NO_WRITES, "no-writes"),
    (ALLOW_OOM, "allow-oom"),
    (ALLOW_STALE, "allow-stale"),
    (NO_CLUSTER, "no-cluster"),
    (ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
]
FLAG_BY_NAME = {n: f for f, n in FLAG_NAMES}

BUSY_EVAL = errors.BUSY_SCRIPT
BUSY_FUNCTION = (
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
)
_LOG_LEVELS = ("debug", "verbose", "notice", "warning")


def _deny_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("access denied")


class LuaVM:
    """One Lua state with the sandbox installed (EVAL scripts, or the function libraries)."""

    def __init__(self, engine: ScriptingEngine, mode: str, helpers: dict[bytes, Any]) -> None:
        rt = lua51.LuaRuntime(
            encoding=None,
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_filter=_deny_attributes,
        )
        self.rt = rt
        self.conv = Converter(rt)
        self.libs = Libs(rt)
        g = rt.globals()
        g.python = None
        h = {
            b"check": engine.hook_check,
            b"kill_error": engine.kill_error,
            b"unwrap": _unwrap,
            b"random": engine.lua_random,
            b"randomseed": engine.lua_randomseed,
            b"call": engine.lua_call_raise,
            b"pcall": engine.lua_pcall,
            b"log": engine.lua_log,
            b"sha1hex": engine.lua_sha1hex,
            b"setresp": engine.lua_setresp,
            b"set_repl": engine.lua_set_repl,
            b"acl_check": engine.lua_acl_check,
            b"version": VERSION.encode(),
            b"version_num": VERSION_NUM,
            b"libs": rt.table_from(_raising(self.libs.functions())),
        }
        h.update(helpers)
        loader = g.loadstring(PRELUDE.encode(), b"=ember")
        if loader is None:  # pragma: no cover - the prelude is part of the package
            raise RuntimeError("cannot load the Lua prelude")
        self.api = loader(rt.table_from(h), mode.encode(), HOOK_COUNT)
        self.libs.null = self.api.null
        self.compile = self.api.compile
        self.run_eval = self.api.run_eval
        self.run_function = self.api.run_function

    def error_reply(self, err: Any, funcname: str) -> Any:
        """The client error for an error object caught by the script runner."""
        msg, source, line = self.api.error_info(err)
        if type(msg) is not bytes:
            msg = b"%.14g" % msg if isinstance(msg, int | float) else b"(null)"
        text = msg.decode("utf-8", "surrogateescape")
        if line is not None and source is not None:
            if isinstance(line, float):
                line = int(line)
            text += f" script: {funcname}, on {source.decode('utf-8', 'replace')}:{line}."
        text = text.replace("\r", " ").replace("\n", " ")
        return text


class RunCtx:
    """scriptRunCtx: the script being run."""

    __slots__ = (
        "caller",
        "vm",
        "name",
        "is_eval",
        "flags",
        "read_only",
        "start",
        "timedout",
        "killed",
        "wrote",
        "resp3",
        "repl",
        "oom",
        "argv",
        "killed_by",
    )

    def __init__(
        self, caller: Client, vm: LuaVM, name: str, is_eval: bool, flags: int, read_only: bool
    ) -> None:
        self.caller = caller
        self.vm = vm
        self.name = name
        self.is_eval = is_eval
        self.flags = flags
        self.read_only = read_only
        self.start = time.monotonic()
        self.timedout = False
        self.killed = False
        self.killed_by = "SCRIPT"
        self.wrote = False
        self.resp3 = False
        self.repl = 3
        self.oom = False
        self.argv: list[bytes] = []

    def busy_error(self) -> str:
        return BUSY_EVAL if self.is_eval else BUSY_FUNCTION


class Script:
    __slots__ = ("body", "flags", "fn")

    def __init__(self, body: bytes, flags: int, fn: Any) -> None:
        self.body = body
        self.flags = flags
        self.fn = fn


class ScriptingEngine:
    def __init__(self, server: Server) -> None:
        from ember.server.client import Client

        self.server = server
        self.current: RunCtx | None = None
        self.scripts: dict[str, Script] = {}
        self._eval_vm: LuaVM | None = None
        # redisLrand48: one process-wide generator, initial state as the C library's
        self._rand_x = 0x1234ABCD330E
        self.fake = Client(server)
        self.fake.addr = "lua"
        self.fake.name = b""
        self.load_deadline = 0.0  # FUNCTION LOAD timeout (monotonic) while loading
        self.functions: Any = None  # the LibraryStore (set by attach)
        self.busy_pump: Callable[[RunCtx], None] | None = None

    # ------------------------------------------------------------------ VMs
    @property
    def eval_vm(self) -> LuaVM:
        if self._eval_vm is None:
            self._eval_vm = LuaVM(self, "eval", {b"register_function": lambda *a: None})
        return self._eval_vm

    def flush_scripts(self) -> None:
        self.scripts = {}
        self._eval_vm = None

    # ------------------------------------------------------------------ EVAL scripts
    def create_script(self, body: bytes) -> tuple[str, Script]:
        """luaCreateFunction: compile and cache ``body`` (raises CommandError)."""
        sha = hashlib.sha1(body).hexdigest()
        sc = self.scripts.get(sha)
        if sc is not None:
            return sha, sc
        flags, shebang_len = parse_shebang(body)
        fn, err = self.eval_vm.compile(body[shebang_len:], b"@user_script")
        if fn is None:
            msg = (err or b"").decode("utf-8", "surrogateescape")
            raise CommandError(
                f"ERR Error compiling script (new function): {msg}".replace("\n", " ")
            )
        sc = Script(body, flags, fn)
        self.scripts[sha] = sc
        return sha, sc

    # ------------------------------------------------------------------ running
    def prepare(self, c: Client, flags: int, ro: bool) -> bool:
        """scriptPrepareForRun's checks; returns whether the script runs read-only."""
        srv = self.server
        reason = srv.write_block_reason()
        if not flags & EVAL_COMPAT:
            if (
                reason is not None
                and reason.startswith("OOM")
                and not flags & (ALLOW_OOM | NO_WRITES)
            ):
                raise CommandError(
                    "OOM allow-oom flag is not set on the script, can not run it when used "
                    "memory > 'maxmemory'"
                )
            if not flags & NO_WRITES:
                if reason is not None and reason.startswith("MISCONF"):
                    if "AOF" in reason:
                        raise CommandError(reason)
                    raise CommandError(
                        "MISCONF Redis is configured to save RDB snapshots, but it's currently "
                        "unable to persist to disk. Writable scripts are blocked. Use 'no-writes' "
                        "flag for read only scripts."
                    )
                if ro:
                    raise CommandError(
                        "ERR Can not execute a script with write flag using *_ro command."
                    )
        return bool(flags & NO_WRITES) or ro

    def run(
        self,
        c: Client,
        vm: LuaVM,
        fn: Any,
        name: str,
        is_eval: bool,
        flags: int,
        read_only: bool,
        keys: list[bytes],
        args: list[bytes],
        argv: list[bytes],
    ) -> Any:
        """Run a compiled script / function; returns the reply for the caller."""
        srv = self.server
        ctx = RunCtx(c, vm, name, is_eval, flags, read_only)
        ctx.argv = argv
        reason = srv.write_block_reason()
        ctx.oom = reason is not None and reason.startswith("OOM")
        fake = self.fake
        fake.db = c.db
        fake.resp3 = False
        fake.authenticated = True
        fake.in_multi = False
        self.current = ctx
        srv.busy_script = ctx
        rt_table = vm.rt.table_from
        try:
            if is_eval:
                ok, res = vm.run_eval(fn, rt_table(keys), rt_table(args))
            else:
                ok, res = vm.run_function(fn, rt_table(keys), rt_table(args))
            if ok:
                reply = vm.conv.to_reply(res, ctx.resp3)
            else:
                reply = CommandError(vm.error_reply(res, name))
        finally:
            self.current = None
            srv.busy_script = None
            fake.db = srv.dbs[0]
            if ctx.timedout:
                self.end_busy(ctx)
        # the script's own effects were propagated by the nested calls: never the EVAL
        srv.prevent_prop = True
        return reply

    def end_busy(self, ctx: RunCtx) -> None:
        srv = self.server
        srv.log("warning", "Slow script detected: script finished its execution.")
        hook = getattr(self, "after_busy", None)
        if hook is not None:
            hook()

    # ------------------------------------------------------------------ hook
    def hook_check(self) -> bool:
        ctx = self.current
        if ctx is None:
            # FUNCTION LOAD: 500 ms budget for the library's top-level code
            return bool(self.load_deadline) and time.monotonic() > self.load_deadline
        if ctx.killed:
            return True
        threshold = self.server.config.values["busy-reply-threshold"]
        elapsed_ms = (time.monotonic() - ctx.start) * 1000
        if elapsed_ms < threshold:
            return False
        if not ctx.timedout:
            ctx.timedout = True
            kill = "SCRIPT KILL" if ctx.is_eval else "FUNCTION KILL"
            self.server.log(
                "warning",
                f"Slow script detected: still in execution after {int(elapsed_ms)} milliseconds. "
                f"You can try killing the script using the {kill} command. "
                f"Script name is: {ctx.name}.",
            )
        pump = self.busy_pump
        if pump is not None:
            pump(ctx)
        srv = self.server
        if srv.shutdown_event is not None and srv.shutdown_event.is_set():
            ctx.killed = True
        return ctx.killed

    def kill_error(self) -> Any:
        """The error table a killed script (or a too long FUNCTION LOAD) raises."""
        ctx = self.current
        vm = ctx.vm if ctx is not None else (self.functions.vm if self.functions else self.eval_vm)
        if ctx is None:
            return vm.rt.table_from({b"err": b"ERR FUNCTION LOAD timeout"})
        return vm.rt.table_from({b"err": b"ERR Script killed by user with SCRIPT KILL..."})

    def kill(self, is_eval: bool) -> Any:
        """SCRIPT KILL / FUNCTION KILL."""
        from ember.protocol.resp import OK

        ctx = self.current
        if ctx is None:
            raise CommandError("NOTBUSY No scripts in execution right now.")
        if ctx.wrote:
            raise CommandError(
                "UNKILLABLE Sorry the script already executed write commands against the "
                "dataset. You can either wait the script termination or kill the server in a "
                "hard way using the SHUTDOWN NOSAVE command."
            )
        if is_eval and not ctx.is_eval:
            raise CommandError(BUSY_FUNCTION)
        if not is_eval and ctx.is_eval:
            raise CommandError(BUSY_EVAL)
        ctx.killed = True
        return OK

    # ------------------------------------------------------------------ PRNG
    def rand(self) -> float:
        self._rand_x = x = (0x5DEECE66D * self._rand_x + 0xB) & 0xFFFFFFFFFFFF
        v = x >> 17
        return (v % 0x7FFFFFFF) / 0x7FFFFFFF

    def srand(self, seed: int) -> None:
        self._rand_x = ((int(seed) & 0xFFFFFFFF) << 16) | 0x330E

    # ------------------------------------------------------------------ redis.* helpers
    def _err(self, msg: str) -> LuaRaise:
        ctx = self.current
        vm = ctx.vm if ctx is not None else self.eval_vm
        return LuaRaise(1, vm.rt.table_from({b"err": msg.encode()}))

    def lua_random(self, *args: Any) -> Any:
        r = self.rand()
        n = len(args)
        if n == 0:
            return r
        if n == 1:
            u = _checkint(args[0], 1, "random")
            if u < 1:
                raise LuaRaise(2, b"bad argument #1 to 'random' (interval is empty)")
            return math.floor(r * u) + 1
        if n == 2:
            lo = _checkint(args[0], 1, "random")
            u = _checkint(args[1], 2, "random")
            if lo > u:
                raise LuaRaise(2, b"bad argument #2 to 'random' (interval is empty)")
            return math.floor(r * (u - lo + 1)) + lo
        raise LuaRaise(2, b"wrong number of arguments")

    def lua_randomseed(self, *args: Any) -> None:
        self.srand(_checkint(args[0] if args else None, 1, "randomseed", missing=not args))

    def lua_sha1hex(self, *args: Any) -> bytes:
        if len(args) != 1:
            raise self._err("ERR wrong number of arguments")
        s = args[0]
        t = type(s)
        if t is int or t is float:
            s = _tostring(s)
        elif t is not bytes:
            s = b""
        return hashlib.sha1(s).hexdigest().encode()

    def lua_log(self, *args: Any) -> None:
        if len(args) < 2:
            raise self._err("ERR redis.log() requires two arguments or more.")
        level = _tonumber(args[0])
        if level is None:
            raise self._err("ERR First argument must be a number (log level).")
        if level < 0 or level > 3:
            raise self._err("ERR Invalid debug level.")
        parts = []
        for a in args[1:]:
            t = type(a)
            if t is bytes:
                parts.append(a)
            elif t is int or t is float:
                parts.append(_tostring(a))
        self.server.log(_LOG_LEVELS[int(level)], b" ".join(parts).decode("utf-8", "replace"))

    def lua_setresp(self, *args: Any) -> None:
        if len(args) != 1:
            raise self._err("ERR redis.setresp() requires one argument.")
        v = _tonumber(args[0])
        if v != 2 and v != 3:
            raise self._err("ERR RESP version must be 2 or 3.")
        ctx = self.current
        if ctx is not None:
            ctx.resp3 = v == 3

    def lua_set_repl(self, *args: Any) -> None:
        if len(args) != 1:
            raise self._err("ERR redis.set_repl() requires two arguments.")
        v = _tonumber(args[0])
        iv = int(v) if v is not None else 0
        if iv & ~3:
            raise self._err(
                "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."
            )
        ctx = self.current
        if ctx is not None:
            ctx.repl = iv

    def lua_acl_check(self, *args: Any) -> Any:
        if not args:
            raise self._err("ERR Please specify at least one argument for this redis lib call")
        name = args[0]
        spec = self.server.commands_by_name.get(name.lower()) if type(name) is bytes else None
        if spec is None:
            raise self._err("ERR Invalid command passed to redis.acl_check_cmd()")
        return True

    def lua_call_raise(self, *args: Any) -> Any:
        """redis.call: errors are raised (as an {err=...} table)."""
        ctx = self.current
        if ctx is None:
            return None
        reply = self._call(ctx, args)
        if isinstance(reply, CommandError):
            raise LuaRaise(
                1,
                ctx.vm.conv.table_from({b"err": reply.message.encode("utf-8", "surrogateescape")}),
            )
        return ctx.vm.conv.to_lua(reply, ctx.resp3)

    def lua_pcall(self, *args: Any) -> Any:
        """redis.pcall: errors are returned as {err=...} tables."""
        ctx = self.current
        if ctx is None:
            return None
        reply = self._call(ctx, args)
        if isinstance(reply, CommandError):
            return ctx.vm.conv.table_from(
                {b"err": reply.message.encode("utf-8", "surrogateescape")}
            )
        return ctx.vm.conv.to_lua(reply, ctx.resp3)

    def _call(self, ctx: RunCtx, args: tuple[Any, ...]) -> Any:
        if not args:
            return CommandError("ERR Please specify at least one argument for this redis lib call")
        argv: list[bytes] = []
        for a in args:
            t = type(a)
            if t is bytes:
                argv.append(a)
            elif t is int:
                argv.append(b"%d" % a if -(10**17) < a < 10**17 else _num_arg(float(a)))
            elif t is float:
                argv.append(_num_arg(a))
            else:
                return CommandError(
                    "ERR Lua redis lib command arguments must be strings or integers"
                )
        srv = self.server
        spec = srv.commands_by_name.get(argv[0].lower())
        if spec is not None and spec.subcommands:
            sub = (
                spec.subcommands.get(argv[1].lower().decode(errors="replace"))
                if len(argv) > 1
                else None
            )
            if sub is None:
                if len(argv) < 2:
                    return CommandError(
                        "ERR Wrong number of args calling Redis command from script"
                    )
                return errors.unknown_subcommand(argv[1], spec.name)
            spec = sub
        if spec is None or spec.handler is None:
            return CommandError("ERR Unknown Redis command called from script")
        arity = spec.arity
        if (arity > 0 and len(argv) != arity) or len(argv) < -arity:
            return CommandError("ERR Wrong number of args calling Redis command from script")
        flags = spec.flags
        if flags & Flag.NOSCRIPT:
            return CommandError("ERR This Redis command is not allowed from script")
        if ctx.read_only and flags & (Flag.WRITE | Flag.MAY_REPLICATE):
            return CommandError("ERR Write commands are not allowed from read-only scripts.")
        if flags & Flag.WRITE and not ctx.wrote:
            reason = srv.write_block_reason()
            if reason is not None and reason.startswith("MISCONF"):
                return CommandError(reason)
        if flags & Flag.DENYOOM and not ctx.flags & ALLOW_OOM and not ctx.wrote and ctx.oom:
            return CommandError(errors.OOM)
        fake = self.fake
        fake.resp3 = ctx.resp3
        dirty = srv.dirty
        if ctx.repl == 0:
            srv.prevent_prop = True
        if srv.monitors and not flags & (Flag.ADMIN | Flag.SKIP_MONITOR):
            from ember.server.pubsub import feed_monitors

            feed_monitors(fake, argv)
        reply = fake.call(spec, argv)
        if srv.dirty != dirty:
            ctx.wrote = True
        if type(reply) is Raw and reply.data[:1] == b"-":
            reply = CommandError(reply.data[1:].rstrip(b"\r\n").decode("utf-8", "surrogateescape"))
        return reply


class LuaRaise(Exception):
    """Raised by Python code called from Lua: becomes a Lua error (see prelude.lua).

    kind 1: ``payload`` is the Lua error value (an ``{err=...}`` table);
    kind 2: ``payload`` is a message that gets the caller's position (``luaL_error``).
    """

    def __init__(self, kind: int, payload: Any) -> None:
        super().__init__(kind)
        self.kind = kind
        self.payload = payload


def _unwrap(e: Any) -> tuple[Any, Any]:
    if isinstance(e, LuaRaise):
        return e.kind, e.payload
    return None, None


def _raising(funcs: dict[bytes, Callable[..., Any]]) -> dict[bytes, Callable[..., Any]]:
    """Library functions return (ok, ...); make them raise their errors instead."""
    out = {}
    for name, fn in funcs.items():
        short = name.split(b"_", 1)[1]

        multi = b"unpack" in name

        def wrapped(
            *a: Any, _fn: Callable[..., Any] = fn, _short: bytes = short, _multi: bool = multi
        ) -> Any:
            r = _fn(*a)
            if r[0] is False:
                raise LuaRaise(2, r[1].replace(b"'?'", b"'" + _short + b"'"))
            if not _multi:
                return r[1]
            return tuple(r[2 : 2 + r[1]])

        out[name] = wrapped
    return out


def _tostring(v: float | int) -> bytes:
    """Lua 5.1 tostring of a number (``%.14g``)."""
    if isinstance(v, float):
        if math.isnan(v):
            return b"-nan" if math.copysign(1.0, v) < 0 else b"nan"
        if math.isinf(v):
            return b"inf" if v > 0 else b"-inf"
    return b"%.14g" % v


def _tonumber(v: Any) -> float | None:
    t = type(v)
    if t is int or t is float:
        return v  # type: ignore[no-any-return]
    if t is bytes:
        s = v.strip()
        try:
            return float(s)
        except ValueError:
            pass
        try:
            if s[:2].lower() == b"0x":
                return float(int(s[2:], 16))
        except ValueError:
            pass
    return None


def _checkint(v: Any, narg: int, fname: str, missing: bool = False) -> int:
    x = _tonumber(v)
    if x is None:
        got = "no value" if missing or v is None else _lua_type_name(v)
        raise LuaRaise(
            2, f"bad argument #{narg} to '{fname}' (number expected, got {got})".encode()
        )
    return int(x)


def _lua_type_name(v: Any) -> str:
    t = type(v)
    if t is bytes:
        return "string"
    if t is bool:
        return "boolean"
    if t is int or t is float:
        return "number"
    if v is None:
        return "nil"
    return lua51.lua_type(v) or "userdata"


def _num_arg(v: float) -> bytes:
    """A Lua number argument as Redis 7.0 sends it (``%.17g``)."""
    if math.isnan(v):
        return b"-nan" if math.copysign(1.0, v) < 0 else b"nan"
    if math.isinf(v):
        return b"inf" if v > 0 else b"-inf"
    if v == int(v) and abs(v) < 1e17:
        if v == 0 and math.copysign(1.0, v) < 0:
            return b"-0"
        return b"%d" % int(v)
    return b"%.17g" % v


# ---------------------------------------------------------------------- shebang
def parse_shebang(body: bytes) -> tuple[int, int]:
    """evalExtractShebangFlags: (script flags, shebang length) or CommandError."""
    if not body.startswith(b"#!"):
        return EVAL_COMPAT, 0
    end = body.find(b"\n")
    if end < 0:
        raise CommandError("ERR Invalid script shebang")
    parts = split_args(body[:end])
    if not parts:
        raise CommandError("ERR Invalid engine in script shebang")
    if parts[0] != b"#!lua":
        raise CommandError(
            f"ERR Unexpected engine in script shebang: {parts[0].decode(errors='replace')}"
        )
    flags = 0
    for p in parts[1:]:
        if p.startswith(b"flags="):
            rest = p[6:]
            if not rest:
                continue
            for f in rest.split(b","):
                bit = FLAG_BY_NAME.get(f.decode(errors="replace"))
                if bit is None:
                    raise CommandError(
                        f"ERR Unexpected flag in script shebang: {f.decode(errors='replace')}"
                    )
                flags |= bit
        else:
            raise CommandError(f"ERR Unknown lua shebang option: {p.decode(errors='replace')}")
    return flags, end
