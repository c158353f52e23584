"""One declarative table of configuration options: redis.conf, CONFIG GET/SET/REWRITE.

Each :class:`Option` declares its name, aliases, type, default, bounds, whether it may
change at runtime, and an optional hook run after a successful ``CONFIG SET``. Values are
stored already parsed (ints, bools, strings, lists) in :attr:`Config.values`; hot code reads
them through attributes (``config.hz``) cached in the same dict.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MEMORY_UNITS = {
    "b": 1,
    "k": 1000,
    "kb": 1024,
    "m": 1000**2,
    "mb": 1024**2,
    "g": 1000**3,
    "gb": 1024**3,
}


class ConfigError(Exception):
    """Invalid option name or value; ``str()`` is the Redis-style reason."""


@dataclass(slots=True)
class Option:
    name: str
    kind: str  # bool | int | memory | enum | string | save | special | float | octal | flags
    default: Any
    aliases: tuple[str, ...] = ()
    mutable: bool = True
    min: int | float | None = None
    max: int | float | None = None
    choices: tuple[str, ...] = ()
    protected: bool = False  # needs enable-protected-configs to change at runtime
    hook: str | None = None  # Server method name called as hook(old, new) after CONFIG SET
    parse: Callable[[str], Any] | None = None
    render: Callable[[Any], str] | None = None
    multi_arg: bool = False  # takes several words on one conf line (save, oom-score-adj-values)
    hidden: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def parse_bool(s: str) -> bool:
    v = s.lower()
    if v == "yes":
        return True
    if v == "no":
        return False
    raise ConfigError("argument must be 'yes' or 'no'")


def parse_memory(s: str) -> int:
    m = re.fullmatch(r"(-?\d+)([a-zA-Z]*)", s.strip())
    if not m:
        raise ConfigError("argument must be a memory value")
    unit = m.group(2).lower()
    if unit and unit not in MEMORY_UNITS:
        raise ConfigError("argument must be a memory value")
    return int(m.group(1)) * MEMORY_UNITS.get(unit, 1)


def render_memory(v: int) -> str:
    return str(v)


def parse_save(s: str) -> list[tuple[int, int]]:
    parts = s.split()
    if not parts or (len(parts) == 1 and parts[0] == ""):
        return []
    if len(parts) % 2:
        raise ConfigError("Invalid save parameters")
    out = []
    for i in range(0, len(parts), 2):
        try:
            secs, changes = int(parts[i]), int(parts[i + 1])
        except ValueError:
            raise ConfigError("Invalid save parameters") from None
        if secs < 1 or changes < 0:
            raise ConfigError("Invalid save parameters")
        out.append((secs, changes))
    return out


def render_save(v: list[tuple[int, int]]) -> str:
    return " ".join(f"{a} {b}" for a, b in v)


_OBUF_CLASSES = ("normal", "replica", "pubsub")


def parse_obuf(s: str) -> dict[str, tuple[int, int, int]]:
    parts = s.split()
    if len(parts) % 4 or not parts:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    out: dict[str, tuple[int, int, int]] = {}
    for i in range(0, len(parts), 4):
        cls = parts[i].lower()
        if cls == "slave":
            cls = "replica"
        if cls not in _OBUF_CLASSES:
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        hard, soft = parse_memory(parts[i + 1]), parse_memory(parts[i + 2])
        try:
            secs = int(parts[i + 3])
        except ValueError:
            raise ConfigError("Error in soft_seconds setting in buffer limit configuration.") from None
        if hard < 0 or soft < 0 or secs < 0:
            raise ConfigError("Negative number in buffer limit configuration.")
        out[cls] = (hard, soft, secs)
    return out


def render_obuf(v: dict[str, tuple[int, int, int]]) -> str:
    return " ".join(f"{c} {h} {s} {t}" for c, (h, s, t) in v.items())


def _o(name: str, kind: str, default: Any, **kw: Any) -> Option:
    return Option(name, kind, default, **kw)


_OBUF_DEFAULT = {
    "normal": (0, 0, 0),
    "replica": (256 * 1024**2, 64 * 1024**2, 60),
    "pubsub": (32 * 1024**2, 8 * 1024**2, 60),
}

OPTIONS: list[Option] = [
    # -- network
    _o("bind", "string", "* -::*", multi_arg=True, mutable=True, hook="on_bind"),
    _o("port", "int", 6379, min=0, max=65535, hook="on_port"),
    _o("unixsocket", "string", "", mutable=False),
    _o("unixsocketperm", "octal", 0, mutable=False),
    _o("protected-mode", "bool", True),
    _o("tcp-backlog", "int", 511, min=0, mutable=False),
    _o("tcp-keepalive", "int", 300, min=0),
    _o("timeout", "int", 0, min=0),
    _o("maxclients", "int", 10000, min=1, hook="on_maxclients"),
    _o("requirepass", "string", "", hook="on_requirepass"),
    _o("proto-max-bulk-len", "memory", 512 * 1024**2, min=1024 * 1024, hook="on_proto_max_bulk"),
    _o("client-query-buffer-limit", "memory", 1024**3, min=1024 * 1024),
    _o(
        "client-output-buffer-limit",
        "special",
        _OBUF_DEFAULT,
        parse=parse_obuf,
        render=render_obuf,
        multi_arg=True,
    ),
    _o("enable-debug-command", "enum", "no", choices=("yes", "no", "local"), mutable=False),
    _o("enable-protected-configs", "enum", "no", choices=("yes", "no", "local"), mutable=False),
    _o("enable-module-command", "enum", "no", choices=("yes", "no", "local"), mutable=False),
    _o("rename-command", "special", [], mutable=False, multi_arg=True, hidden=True),
    # -- general
    _o("daemonize", "bool", False, mutable=False),
    _o("pidfile", "string", "", mutable=False),
    _o("loglevel", "enum", "notice", choices=("debug", "verbose", "notice", "warning", "nothing")),
    _o("logfile", "string", "", mutable=False),
    _o("syslog-enabled", "bool", False, mutable=False),
    _o("databases", "int", 16, min=1, mutable=False),
    _o("always-show-logo", "bool", False, mutable=False),
    _o("set-proc-title", "bool", True, mutable=False),
    _o("hz", "int", 10, min=1, max=500, hook="on_hz"),
    _o("dynamic-hz", "bool", True),
    _o("io-threads", "int", 1, min=1, max=128, mutable=False),
    _o("maxmemory", "memory", 0, min=0),
    _o(
        "maxmemory-policy",
        "enum",
        "noeviction",
        choices=(
            "volatile-lru",
            "allkeys-lru",
            "volatile-lfu",
            "allkeys-lfu",
            "volatile-random",
            "allkeys-random",
            "volatile-ttl",
            "noeviction",
        ),
    ),
    _o("maxmemory-samples", "int", 5, min=1, max=64),
    _o("lfu-log-factor", "int", 10, min=0),
    _o("lfu-decay-time", "int", 1, min=0),
    _o("lazyfree-lazy-eviction", "bool", False),
    _o("lazyfree-lazy-expire", "bool", False),
    _o("lazyfree-lazy-server-del", "bool", False),
    _o("lazyfree-lazy-user-del", "bool", False),
    _o("lazyfree-lazy-user-flush", "bool", False),
    _o("active-expire-effort", "int", 1, min=1, max=10),
    _o("slowlog-log-slower-than", "int", 10000, min=-1),
    _o("slowlog-max-len", "int", 128, min=0),
    _o("latency-monitor-threshold", "int", 0, min=0),
    _o("latency-tracking", "bool", True),
    _o("notify-keyspace-events", "flags", ""),
    _o("busy-reply-threshold", "int", 5000, aliases=("lua-time-limit",), min=0),
    _o("oom-score-adj", "enum", "no", choices=("no", "yes", "relative", "absolute")),
    _o("crash-log-enabled", "bool", True),
    # -- encodings (thresholds used by OBJECT ENCODING and the RDB writer)
    _o("hash-max-listpack-entries", "int", 512, aliases=("hash-max-ziplist-entries",), min=0),
    _o("hash-max-listpack-value", "int", 64, aliases=("hash-max-ziplist-value",), min=0),
    _o("list-max-listpack-size", "int", -2, aliases=("list-max-ziplist-size",), min=-5),
    _o("list-compress-depth", "int", 0, min=0),
    _o("set-max-intset-entries", "int", 512, min=0),
    _o("set-max-listpack-entries", "int", 128, min=0),
    _o("set-max-listpack-value", "int", 64, min=0),
    _o("zset-max-listpack-entries", "int", 128, aliases=("zset-max-ziplist-entries",), min=0),
    _o("zset-max-listpack-value", "int", 64, aliases=("zset-max-ziplist-value",), min=0),
    _o("hll-sparse-max-bytes", "memory", 3000, min=0),
    _o("stream-node-max-bytes", "memory", 4096, min=0),
    _o("stream-node-max-entries", "int", 100, min=0),
    _o("activerehashing", "bool", True),
    # -- RDB
    _o("save", "save", [(3600, 1), (300, 100), (60, 10000)], parse=parse_save, render=render_save, multi_arg=True),
    _o("dbfilename", "string", "dump.rdb", protected=True, hook="on_dbfilename"),
    _o("dir", "string", "./", protected=True, hook="on_dir"),
    _o("rdbcompression", "bool", True),
    _o("rdbchecksum", "bool", True, mutable=False),
    _o("stop-writes-on-bgsave-error", "bool", True),
    _o("rdb-del-sync-files", "bool", False),
    _o("rdb-key-save-delay", "int", 0, hidden=False),
    _o("key-load-delay", "int", 0),
    _o("rdb-save-incremental-fsync", "bool", True),
    _o("sanitize-dump-payload", "enum", "no", choices=("no", "yes", "clients")),
    _o("rdb-version", "enum", "10", choices=("10", "11", "12", "valkey80")),
    _o("bgsave-engine", "enum", "forkless", choices=("forkless", "fork")),
    _o("rdb-verify-after-save", "bool", False),
    # -- AOF
    _o("appendonly", "bool", False, hook="on_appendonly"),
    _o("appendfilename", "string", "appendonly.aof", mutable=False),
    _o("appenddirname", "string", "appendonlydir", mutable=False),
    _o("appendfsync", "enum", "everysec", choices=("always", "everysec", "no"), hook="on_appendfsync"),
    _o("no-appendfsync-on-rewrite", "bool", False),
    _o("auto-aof-rewrite-percentage", "int", 100, min=0),
    _o("auto-aof-rewrite-min-size", "memory", 64 * 1024**2, min=0),
    _o("aof-load-truncated", "bool", True),
    _o("aof-use-rdb-preamble", "bool", True),
    _o("aof-timestamp-enabled", "bool", False),
    _o("aof-rewrite-incremental-fsync", "bool", True),
    _o("aof-disable-auto-gc", "bool", False),
    # -- replication (accepted for compatibility; no replication yet)
    _o("replica-read-only", "bool", True, aliases=("slave-read-only",)),
    _o("repl-diskless-sync", "bool", True),
    _o("repl-backlog-size", "memory", 1024**2, min=1),
    _o("masterauth", "string", ""),
    _o("masteruser", "string", ""),
    _o("min-replicas-to-write", "int", 0, aliases=("min-slaves-to-write",), min=0),
    _o("min-replicas-max-lag", "int", 10, aliases=("min-slaves-max-lag",), min=0),
    _o("cluster-enabled", "bool", False, mutable=False),
    _o("supervised", "enum", "no", choices=("upstart", "systemd", "auto", "no"), mutable=False),
    _o("jemalloc-bg-thread", "bool", True),
    _o("activedefrag", "bool", False),
]

BY_NAME: dict[str, Option] = {}
for _opt in OPTIONS:
    BY_NAME[_opt.name] = _opt
    for _a in _opt.aliases:
        BY_NAME[_a] = _opt

_KEYSPACE_EVENT_CHARS = "gKE$lshzxetdmAn"


def parse_flags(s: str) -> str:
    for ch in s:
        if ch not in _KEYSPACE_EVENT_CHARS:
            raise ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    return s


def canonical_keyspace_events(s: str) -> str:
    """Render like Redis ``keyspaceEventsFlagsToString`` ('A' hides 'n'; then K, E, m)."""
    flags = set(s)
    if "A" in flags:
        flags |= set("g$lshzxetd")
    if flags.issuperset("g$lshzxetd"):
        out = "A"
    else:
        out = "".join(c for c in "g$lshzxetdn" if c in flags)
    return out + "".join(c for c in "KEm" if c in flags)


class Config:
    """Parsed configuration values plus the file they came from (for CONFIG REWRITE)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {o.name: _copy_default(o.default) for o in OPTIONS}
        self.config_file: str | None = None
        self.renamed: dict[str, str] = {}

    def __getattr__(self, attr: str) -> Any:
        # config.rdb_key_save_delay -> values["rdb-key-save-delay"]
        try:
            return self.__dict__["values"][attr.replace("_", "-")]
        except KeyError:
            raise AttributeError(attr) from None

    def get(self, name: str) -> Any:
        return self.values[BY_NAME[name].name]

    # ------------------------------------------------------------------ parsing
    def parse_value(self, opt: Option, raw: list[str]) -> Any:
        text = " ".join(raw)
        k = opt.kind
        if k == "bool":
            if len(raw) != 1:
                raise ConfigError("wrong number of arguments")
            return parse_bool(raw[0])
        if k in ("int", "memory"):
            if len(raw) != 1:
                raise ConfigError("wrong number of arguments")
            if k == "int":
                try:
                    v = int(raw[0])
                except ValueError:
                    raise ConfigError("argument couldn't be parsed into an integer") from None
            else:
                v = parse_memory(raw[0])
            if opt.min is not None and v < opt.min or opt.max is not None and v > opt.max:
                lo = opt.min if opt.min is not None else "-inf"
                hi = opt.max if opt.max is not None else "inf"
                raise ConfigError(f"argument must be between {lo} and {hi} inclusive")
            return v
        if k == "octal":
            try:
                return int(raw[0], 8)
            except ValueError:
                raise ConfigError("argument couldn't be parsed into an integer") from None
        if k == "enum":
            v = raw[0].lower() if len(raw) == 1 else ""
            if v not in opt.choices:
                raise ConfigError(f"argument(s) must be one of the following: {', '.join(opt.choices)}")
            return v
        if k == "string":
            if opt.multi_arg:
                return text
            if len(raw) != 1:
                raise ConfigError("wrong number of arguments")
            return raw[0]
        if k == "flags":
            return parse_flags(text)
        if opt.parse is not None:
            return opt.parse(text)
        return text

    def render(self, name: str) -> str:
        opt = BY_NAME[name]
        v = self.values[opt.name]
        if opt.render is not None:
            return opt.render(v)
        if opt.kind == "bool":
            return "yes" if v else "no"
        if opt.kind == "octal":
            return f"{v:o}"
        if opt.kind == "flags":
            return canonical_keyspace_events(v)
        if opt.name == "dir":
            return os.getcwd()
        return str(v)

    def matching(self, pattern: str) -> list[str]:
        pat = pattern.lower()
        if not any(c in pat for c in "*?["):
            opt = BY_NAME.get(pat)
            return [opt.name] if opt is not None and not opt.hidden else []
        names = []
        for o in OPTIONS:
            if o.hidden:
                continue
            if fnmatch.fnmatchcase(o.name, pat):
                names.append(o.name)
            else:
                names.extend(o.name for a in o.aliases if fnmatch.fnmatchcase(a, pat))
        return list(dict.fromkeys(names))


def _copy_default(v: Any) -> Any:
    if isinstance(v, (list, dict)):
        return type(v)(v)
    return v


# ---------------------------------------------------------------------- redis.conf parsing


@dataclass
class ConfLine:
    raw: str  # the original text (comments, blank lines kept for REWRITE)
    name: str | None = None  # option name as written (lowercased), None for comments
    args: list[str] = field(default_factory=list)


def split_conf_line(line: str) -> list[str] | None:
    from ember.protocol.resp import split_args

    parts = split_args(line.encode())
    if parts is None:
        return None
    return [p.decode(errors="surrogateescape") for p in parts]


def load_conf_text(
    text: str, config: Config, lines_out: list[ConfLine] | None = None, depth: int = 0,
    base_dir: str = ".",
) -> None:
    """Apply a redis.conf text. Raises ConfigError with Redis's startup message."""
    save_seen = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            if lines_out is not None:
                lines_out.append(ConfLine(raw))
            continue
        args = split_conf_line(stripped)
        if args is None:
            raise ConfigError(_bad_line(lineno, raw, "Unbalanced quotes in configuration line"))
        name = args[0].lower()
        vals = args[1:]
        if lines_out is not None:
            lines_out.append(ConfLine(raw, name, vals))
        if name == "include":
            if len(vals) != 1:
                raise ConfigError(_bad_line(lineno, raw, "wrong number of arguments"))
            path = vals[0]
            if depth > 16:
                raise ConfigError(_bad_line(lineno, raw, "include nesting too deep"))
            try:
                with open(path) as f:
                    inc = f.read()
            except OSError as e:
                raise ConfigError(_bad_line(lineno, raw, f"Fatal error, can't open config file '{path}': {e.strerror}")) from None
            load_conf_text(inc, config, None, depth + 1)
            continue
        if name == "rename-command":
            if len(vals) != 2:
                raise ConfigError(_bad_line(lineno, raw, "wrong number of arguments"))
            config.renamed[vals[0].lower()] = vals[1]
            continue
        opt = BY_NAME.get(name)
        if opt is None or opt.hidden:
            raise ConfigError(_bad_line(lineno, raw, "Bad directive or wrong number of arguments"))
        try:
            if opt.name == "save":
                # repeated `save` lines accumulate; `save ""` resets
                if not save_seen:
                    config.values["save"] = []
                    save_seen = True
                parsed = parse_save(" ".join(vals))
                config.values["save"].extend(parsed)
                if not parsed:
                    config.values["save"] = []
                continue
            if not vals:
                raise ConfigError("wrong number of arguments")
            config.values[opt.name] = config.parse_value(opt, vals)
        except ConfigError as e:
            raise ConfigError(_bad_line(lineno, raw, str(e))) from None


def _bad_line(lineno: int, raw: str, reason: str) -> str:
    return (
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
        f"Reading the configuration file, at line {lineno}\n"
        f">>> '{raw.strip()}'\n{reason}"
    )


def parse_command_line(argv: list[str]) -> tuple[str | None, str]:
    """``ember-server [conf] [--name value ...] [-]`` -> (config file, extra conf text)."""
    conf_file = None
    i = 0
    if argv and not argv[0].startswith("--"):
        conf_file = argv[0]
        i = 1
    extra: list[str] = []
    cur: list[str] = []
    for a in argv[i:]:
        if a.startswith("--") and len(a) > 2:
            if cur:
                extra.append(" ".join(cur))
            cur = [a[2:]]
        else:
            cur.append(_quote(a))
    if cur:
        extra.append(" ".join(cur))
    return conf_file, "\n".join(extra)


def _quote(a: str) -> str:
    if a == "" or any(c in a for c in " \t\"'\\"):
        return '"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return a


# ---------------------------------------------------------------------- CONFIG REWRITE


def rewrite_config(path: str, config: Config) -> None:
    """Rewrite ``path`` like Redis: keep comments and order, update changed options,
    drop lines of options now at their default, append new ones at the end."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    lines: list[ConfLine] = []
    scratch = Config()
    load_conf_text(text, scratch, lines)
    out: list[str] = []
    done: set[str] = set()
    for ln in lines:
        if ln.name is None or ln.name in ("include", "rename-command"):
            out.append(ln.raw)
            continue
        opt = BY_NAME.get(ln.name)
        if opt is None:
            out.append(ln.raw)
            continue
        if opt.name in done:
            continue
        done.add(opt.name)
        out.extend(_option_lines(opt, config, force=True))
    new = [o for o in OPTIONS if o.name not in done and not o.hidden]
    appended = []
    for o in new:
        appended.extend(_option_lines(o, config, force=False))
    if appended:
        out.append("# Generated by CONFIG REWRITE")
        out.extend(appended)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write("\n".join(out) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _option_lines(opt: Option, config: Config, force: bool) -> list[str]:
    v = config.values[opt.name]
    if not force and v == opt.default:
        return []
    if opt.name == "save":
        if not v:
            return ['save ""']
        return [f"save {a} {b}" for a, b in v]
    if opt.name == "dir":
        return [f"dir {_quote(os.getcwd())}"]
    text = config.render(opt.name)
    if opt.kind in ("string", "flags") and not opt.multi_arg:
        text = _quote(text) if text else '""'
    return [f"{opt.name} {text}"]
