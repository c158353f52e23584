"""The one declarative command table.

Each command module declares its commands with :func:`command`; the resulting
:class:`CommandSpec` entries in :data:`COMMANDS` drive dispatch (arity, flags checked once
in :mod:`ember.commands.dispatch`), ``COMMAND``/``COMMAND INFO``/``DOCS``/``GETKEYS``,
and AOF propagation (only commands flagged ``WRITE`` are propagated).

Container commands (``CONFIG GET``, ``CLIENT LIST``...) register each subcommand with
``parent="config"``; the subcommand's arity counts the container name like Redis does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ember.server.client import Client

Handler = Callable[["Client", list[bytes]], Any]


class Flag:
    """Command flags as plain ``int`` bits (an IntFlag costs ~1 µs per ``&`` on the hot path)."""

    NONE: Final = 0
    WRITE: Final = 1 << 0
    READONLY: Final = 1 << 1
    DENYOOM: Final = 1 << 2
    ADMIN: Final = 1 << 3
    PUBSUB: Final = 1 << 4
    NOSCRIPT: Final = 1 << 5
    BLOCKING: Final = 1 << 6
    LOADING: Final = 1 << 7  # allowed while loading
    STALE: Final = 1 << 8
    SKIP_MONITOR: Final = 1 << 9
    SKIP_SLOWLOG: Final = 1 << 10
    FAST: Final = 1 << 11
    NO_AUTH: Final = 1 << 12
    MAY_REPLICATE: Final = 1 << 13
    NO_MULTI: Final = 1 << 14
    ALLOW_BUSY: Final = 1 << 15
    SENTINEL: Final = 1 << 16
    NO_MANDATORY_KEYS: Final = 1 << 17
    NO_ASYNC_LOADING: Final = 1 << 18
    ONLY_SENTINEL: Final = 1 << 19
    TOUCHES_ARBITRARY_KEYS: Final = 1 << 20
    # ember-internal: not shown by COMMAND
    RANDOM: Final = 1 << 24  # result depends on randomness (propagate effects, not the command)


_FLAG_NAMES = [
    (Flag.WRITE, "write"),
    (Flag.READONLY, "readonly"),
    (Flag.DENYOOM, "denyoom"),
    (Flag.ADMIN, "admin"),
    (Flag.PUBSUB, "pubsub"),
    (Flag.NOSCRIPT, "noscript"),
    (Flag.BLOCKING, "blocking"),
    (Flag.LOADING, "loading"),
    (Flag.STALE, "stale"),
    (Flag.SKIP_MONITOR, "skip_monitor"),
    (Flag.SKIP_SLOWLOG, "skip_slowlog"),
    (Flag.FAST, "fast"),
    (Flag.NO_AUTH, "no_auth"),
    (Flag.MAY_REPLICATE, "may_replicate"),
    (Flag.NO_MULTI, "no_multi"),
    (Flag.ALLOW_BUSY, "allow_busy"),
    (Flag.NO_MANDATORY_KEYS, "no_mandatory_keys"),
]

# ACL categories implied by flags and group (Redis setImplicitACLCategories + json)
_GROUP_CATEGORY = {
    "string": "@string",
    "list": "@list",
    "hash": "@hash",
    "set": "@set",
    "sorted_set": "@sortedset",
    "stream": "@stream",
    "bitmap": "@bitmap",
    "hyperloglog": "@hyperloglog",
    "geo": "@geo",
    "pubsub": "@pubsub",
    "scripting": "@scripting",
    "transactions": "@transaction",
    "connection": "@connection",
    "generic": "@keyspace",
    "server": None,
}


@dataclass(slots=True)
class CommandSpec:
    name: str
    handler: Handler | None
    arity: int
    flags: int
    first_key: int = 0
    last_key: int = 0
    step: int = 0
    group: str = "generic"
    since: str = "1.0.0"
    summary: str = ""
    acl: tuple[str, ...] = ()
    parent: str | None = None
    subcommands: dict[str, CommandSpec] = field(default_factory=dict)
    # custom key extraction (e.g. EVAL numkeys, ZUNIONSTORE numkeys, XREAD STREAMS ...)
    keys_fn: Callable[[list[bytes]], list[int]] | None = None
    # rough hit statistics (INFO commandstats)
    calls: int = 0
    usec: int = 0
    rejected_calls: int = 0
    failed_calls: int = 0
    fullname_b: bytes = b""  # fullname encoded (CLIENT LIST cmd=, set per call)
    # the dispatcher asks write_block_reason() (MISCONF/OOM) for this command
    checks_write_block: bool = False
    # Db.lookup() counts keyspace_hits/misses and sends 'keymiss' events while this
    # command runs (Redis lookupKeyRead); None = every command without the write flag.
    # A write command whose lookups are reads in Redis (GETDEL, SUNIONSTORE's sources,
    # SORT ... STORE) says True and reads its destination with Db.peek/has instead.
    read_lookups: bool | None = None

    def __post_init__(self) -> None:
        self.fullname_b = self.fullname.encode()
        self.checks_write_block = bool(self.flags & (Flag.WRITE | Flag.DENYOOM)) or (
            self.name == "ping" and self.parent is None
        )
        if self.read_lookups is None:
            self.read_lookups = not self.flags & Flag.WRITE

    @property
    def fullname(self) -> str:
        return f"{self.parent}|{self.name}" if self.parent else self.name

    def flag_names(self) -> list[str]:
        names = [n for f, n in _FLAG_NAMES if self.flags & f]
        if self.keys_fn is not None:
            names.append("movablekeys")  # key positions computed from the arguments
        return names

    def acl_categories(self) -> list[str]:
        cats: list[str] = []
        if self.flags & Flag.WRITE:
            cats.append("@write")
        if self.flags & Flag.READONLY:
            cats.append("@read")
        if self.flags & Flag.ADMIN:
            cats += ["@admin", "@dangerous"]
        if self.flags & Flag.PUBSUB:
            cats.append("@pubsub")
        if self.flags & Flag.FAST:
            cats.append("@fast")
        if self.flags & Flag.BLOCKING:
            cats.append("@blocking")
        if not (self.flags & Flag.FAST):
            cats.append("@slow")
        g = _GROUP_CATEGORY.get(self.group)
        if g and not self.acl and g not in cats:  # explicit categories replace the group's
            cats.append(g)
        for c in self.acl:
            if c not in cats:
                cats.append(c)
        return cats

    def key_positions(self, argv: list[bytes]) -> list[int]:
        """Indexes of key arguments in ``argv`` (COMMAND GETKEYS, WATCH-like uses)."""
        if self.keys_fn is not None:
            return self.keys_fn(argv)
        if self.first_key <= 0:
            return []
        last = self.last_key
        if last < 0:
            last = len(argv) + last
        return list(range(self.first_key, min(last, len(argv) - 1) + 1, max(self.step, 1)))


COMMANDS: dict[str, CommandSpec] = {}


def command(
    name: str,
    arity: int,
    flags: int = 0,
    keys: tuple[int, int, int] = (0, 0, 0),
    group: str = "generic",
    since: str = "1.0.0",
    summary: str = "",
    acl: tuple[str, ...] = (),
    parent: str | None = None,
    keys_fn: Callable[[list[bytes]], list[int]] | None = None,
    read_lookups: bool | None = None,
) -> Callable[[Handler], Handler]:
    """Register ``handler`` as command ``name`` (or subcommand of ``parent``)."""

    def deco(fn: Handler) -> Handler:
        spec = CommandSpec(
            name=name.lower(),
            handler=fn,
            arity=arity,
            flags=flags,
            first_key=keys[0],
            last_key=keys[1],
            step=keys[2],
            group=group,
            since=since,
            summary=summary or (fn.__doc__ or "").strip().split("\n")[0],
            acl=acl,
            parent=parent,
            keys_fn=keys_fn,
            read_lookups=read_lookups,
        )
        if parent is None:
            existing = COMMANDS.get(spec.name)
            if existing is not None and existing.handler is None:
                spec.subcommands = existing.subcommands
            COMMANDS[spec.name] = spec
        else:
            container = COMMANDS.get(parent)
            if container is None:
                container = CommandSpec(parent, None, -2, 0, group=group, since=since)
                COMMANDS[parent] = container
            container.subcommands[spec.name] = spec
        return fn

    return deco


def container(name: str, group: str, since: str, summary: str = "", flags: int = 0) -> None:
    """Declare a container command (CONFIG, CLIENT, ...) whose handler routes subcommands."""
    existing = COMMANDS.get(name)
    subs = existing.subcommands if existing is not None else {}
    COMMANDS[name] = CommandSpec(
        name, None, -2, flags, group=group, since=since, summary=summary, subcommands=subs
    )


def load_all() -> None:
    """Import every command module in this package (each registers its group)."""
    import importlib
    import pkgutil

    import ember.commands as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in ("registry", "dispatch"):
            importlib.import_module(f"ember.commands.{mod.name}")
