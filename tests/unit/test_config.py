"""Unit tests of redis.conf parsing, option values and CONFIG REWRITE (no sockets)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ember.commands.registry import load_all
from ember.config import (
    BY_NAME,
    OPTIONS,
    Config,
    ConfigError,
    canonical_keyspace_events,
    load_conf_text,
    memtoull,
    parse_command_line,
    read_conf_file,
    rewrite_config,
    sds_repr,
)

FATAL = "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
DEBIAN_CONF = Path("/etc/redis/redis.conf")

load_all()


def load(text: str) -> Config:
    cfg = Config()
    load_conf_text(text, cfg)
    return cfg


def fatal(text: str) -> str:
    with pytest.raises(ConfigError) as e:
        load(text)
    return str(e.value)


# --------------------------------------------------------------------------- parsing


def test_defaults_match_redis_7_0() -> None:
    cfg = Config()
    expect = {
        "save": "3600 1 300 100 60 10000",
        "appendonly": "no",
        "hash-max-listpack-entries": "512",
        "hash-max-ziplist-entries": "512",
        "zset-max-listpack-entries": "128",
        "client-output-buffer-limit": "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        "bind": "* -::*",
        "maxmemory-policy": "noeviction",
        "proto-max-bulk-len": "536870912",
        "latency-tracking-info-percentiles": "50 99 99.9",
        "oom-score-adj-values": "0 200 800",
        "notify-keyspace-events": "",
        "unixsocketperm": "0",
        "maxclients": "10000",
        "shutdown-on-sigterm": "default",
    }
    for name, value in expect.items():
        assert cfg.render(name) == value, name


def test_quoting_units_and_repeated_save() -> None:
    cfg = load(
        "# comment\n"
        "   \n"
        'logfile ""\n'
        "maxmemory 64mb\n"
        "maxmemory-policy ALLKEYS-LRU\n"
        "client-query-buffer-limit 2GB\n"
        "hash-max-listpack-value 1k\n"
        "save 900 1\n"
        "save 300 10\n"
        '  requirepass "pa ss\\x41\\n"  \n'
        "dbfilename 'my db.rdb'\n"
        "appendonly YES\n"
        "notify-keyspace-events KEA\n"
        "unixsocketperm 755\n"
        "save 60 10000\n"
    )
    v = cfg.values
    assert v["maxmemory"] == 64 * 1024 * 1024
    assert v["maxmemory-policy"] == "allkeys-lru"
    assert v["client-query-buffer-limit"] == 2 * 1024**3
    assert v["hash-max-listpack-value"] == 1000
    assert v["save"] == [(900, 1), (300, 10), (60, 10000)]
    assert v["requirepass"] == "pa ssA\n"
    assert v["dbfilename"] == "my db.rdb"
    assert v["appendonly"] is True
    assert cfg.render("notify-keyspace-events") == "AKE"
    assert v["unixsocketperm"] == 0o755


def test_save_reset_and_accumulate() -> None:
    assert load('save ""\n').values["save"] == []
    assert load('save 900 1\nsave ""\n').values["save"] == []
    assert load('save ""\nsave 900 1\n').values["save"] == [(900, 1)]
    assert load("save '900 1 300 5'\n").values["save"] == [(900, 1), (300, 5)]
    assert load("appendonly no\n").values["save"] == [(3600, 1), (300, 100), (60, 10000)]


@pytest.mark.parametrize(
    "line,reason",
    [
        ("foo bar", "Bad directive or wrong number of arguments"),
        ("port", "wrong number of arguments"),
        ("port 1 2", "wrong number of arguments"),
        ("port abc", "argument couldn't be parsed into an integer"),
        ("port 70000", "argument must be between 0 and 65535 inclusive"),
        ("maxclients 0", "argument must be between 1 and 4294967295 inclusive"),
        ("maxmemory 10xb", "argument must be a memory value"),
        ("maxmemory -1", "argument must be a memory value"),
        ("appendonly maybe", "argument must be 'yes' or 'no'"),
        (
            "loglevel loud",
            "argument(s) must be one of the following: debug, verbose, notice, warning",
        ),
        (
            "maxmemory-policy lru",
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, "
            "volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction",
        ),
        ('requirepass "unterminated', "Unbalanced quotes in configuration line"),
        ("save 900", "Invalid save parameters"),
        ("save 0 1", "Invalid save parameters"),
        ("save abc 1", "Invalid save parameters"),
        (
            "client-output-buffer-limit normal 1 2",
            "Wrong number of arguments in buffer limit configuration.",
        ),
        (
            "client-output-buffer-limit foo 1 2 3",
            "Invalid client class specified in buffer limit configuration.",
        ),
        (
            "client-output-buffer-limit normal 1x 2 3",
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
        ),
        ("notify-keyspace-events KQ", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
        ("unixsocketperm 999", "argument couldn't be parsed as an octal number"),
        ("unixsocketperm 1777", "argument must be between 0 and 777 inclusive"),
        ("oom-score-adj-values 1 2", "wrong number of arguments"),
        ("bind " + " ".join(["127.0.0.1"] * 17), "Too many bind addresses specified."),
        ("rename-command nosuchcmd x", "No such command in rename-command"),
        ("sentinel monitor x", "sentinel directive while not in sentinel mode"),
        (
            "slowlog-log-slower-than -2",
            "argument must be between -1 and 9223372036854775807 inclusive",
        ),
        ("maxmemory-clients 200%", "percentage argument must be less or equal to 100"),
        ("replicaof host", "wrong number of arguments"),
        ("replicaof host port", "Invalid master port"),
    ],
)
def test_fatal_errors_like_redis(line: str, reason: str) -> None:
    msg = fatal("port 7000\n" + line + "\n")
    shown = " ".join(line.split()) if '"' not in line else line
    assert msg == f"{FATAL}Reading the configuration file, at line 2\n>>> '{shown}'\n{reason}", msg


def test_deprecated_and_accepted_directives() -> None:
    cfg = load(
        "list-max-ziplist-entries 512\nlist-max-ziplist-value 64\nlua-replicate-commands yes\n"
        "slaveof no one\nlua-time-limit 100\nslave-read-only no\n"
    )
    assert cfg.values["busy-reply-threshold"] == 100
    assert cfg.values["replica-read-only"] is False
    assert fatal("list-max-ziplist-entries 1 2\n").endswith(
        "Bad directive or wrong number of arguments"
    )


def test_hz_is_clamped_and_rename_command() -> None:
    assert load("hz 0\n").values["hz"] == 1
    assert load("hz 100000\n").values["hz"] == 500
    cfg = load('rename-command flushall ""\nrename-command config myconfig\n')
    assert cfg.renamed == {"flushall": "", "config": "myconfig"}


def test_user_directive_for_default_user() -> None:
    cfg = load("user default on >secret ~* &* +@all\n")
    assert cfg.values["requirepass"] == "secret"
    cfg = load("requirepass x\nuser default on nopass ~* &* +@all\n")
    assert cfg.values["requirepass"] == ""
    assert "Error in user declaration 'bob'" in fatal("user bob on >x\n")


def test_include_and_globs(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("port 7001\nsave 10 1\n")
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "1.conf").write_text("maxmemory 1mb\n")
    (tmp_path / "conf.d" / "2.conf").write_text("maxmemory 2mb\n")
    cfg = load(
        f"include {tmp_path / 'a.conf'}\ninclude {tmp_path / 'conf.d'}/*.conf\n"
        f"include {tmp_path / 'empty.d'}/*.conf\nsave 20 2\n"
    )
    assert cfg.values["port"] == 7001
    assert cfg.values["maxmemory"] == 2 * 1024 * 1024
    assert cfg.values["save"] == [(10, 1), (20, 2)]
    with pytest.raises(
        ConfigError, match="Fatal error, can't open config file '/nonexistent.conf'"
    ):
        load("include /nonexistent.conf\n")
    (tmp_path / "bad.conf").write_text("\n\nfoo bar\n")
    msg = fatal(f"include {tmp_path / 'bad.conf'}\n")
    assert "at line 3\n>>> 'foo bar'" in msg


def test_dir_and_logfile_checks(tmp_path: Path) -> None:
    assert fatal("dir /nonexistent/dir\n").endswith("No such file or directory")
    msg = fatal("logfile /nonexistent/dir/x.log\n")
    assert msg == f"{FATAL}Can't open the log file: No such file or directory"
    assert load(f"dir {tmp_path}\n").values["dir"] == str(tmp_path)


def test_debian_redis_conf_loads(tmp_path: Path) -> None:
    if not DEBIAN_CONF.exists():
        pytest.fail("the Debian redis.conf (redis-server package) is required")
    conf = tmp_path / "redis.conf"
    shutil.copy(DEBIAN_CONF, conf)
    text = read_conf_file(str(conf))
    text = text.replace("logfile /var/log/redis/redis-server.log", f"logfile {tmp_path}/r.log")
    text = text.replace("dir /var/lib/redis", f"dir {tmp_path}")
    cfg = load(text)
    assert cfg.values["port"] == 6379
    assert cfg.values["bind"] == "127.0.0.1 -::1"
    assert cfg.values["daemonize"] is True
    assert cfg.values["save"] == [(3600, 1), (300, 100), (60, 10000)]
    assert cfg.values["client-output-buffer-limit"]["replica"] == (256 * 1024**2, 64 * 1024**2, 60)


def test_every_redis_7_0_option_is_known() -> None:
    names = {
        "aclfile",
        "acllog-max-len",
        "acl-pubsub-default",
        "active-defrag-cycle-max",
        "active-defrag-cycle-min",
        "active-defrag-ignore-bytes",
        "active-defrag-max-scan-fields",
        "active-defrag-threshold-lower",
        "active-defrag-threshold-upper",
        "active-expire-effort",
        "activedefrag",
        "activerehashing",
        "always-show-logo",
        "aof-disable-auto-gc",
        "aof-load-truncated",
        "aof-rewrite-incremental-fsync",
        "aof-timestamp-enabled",
        "aof-use-rdb-preamble",
        "aof_rewrite_cpulist",
        "appenddirname",
        "appendfilename",
        "appendfsync",
        "appendonly",
        "auto-aof-rewrite-min-size",
        "auto-aof-rewrite-percentage",
        "bgsave_cpulist",
        "bind",
        "bind-source-addr",
        "bio_cpulist",
        "busy-reply-threshold",
        "client-output-buffer-limit",
        "client-query-buffer-limit",
        "cluster-announce-hostname",
        "cluster-announce-ip",
        "cluster-config-file",
        "cluster-enabled",
        "cluster-node-timeout",
        "crash-log-enabled",
        "crash-memcheck-enabled",
        "daemonize",
        "databases",
        "dbfilename",
        "dir",
        "disable-thp",
        "dynamic-hz",
        "enable-debug-command",
        "enable-module-command",
        "enable-protected-configs",
        "hash-max-listpack-entries",
        "hz",
        "ignore-warnings",
        "io-threads",
        "jemalloc-bg-thread",
        "latency-tracking-info-percentiles",
        "logfile",
        "loglevel",
        "lua-time-limit",
        "masterauth",
        "masteruser",
        "maxclients",
        "maxmemory",
        "maxmemory-clients",
        "maxmemory-eviction-tenacity",
        "oom-score-adj",
        "oom-score-adj-values",
        "pidfile",
        "port",
        "proc-title-template",
        "propagation-error-behavior",
        "protected-mode",
        "proto-max-bulk-len",
        "replica-announced",
        "replicaof",
        "slaveof",
        "requirepass",
        "sanitize-dump-payload",
        "save",
        "set-proc-title",
        "shutdown-on-sigint",
        "shutdown-on-sigterm",
        "shutdown-timeout",
        "socket-mark-id",
        "supervised",
        "syslog-enabled",
        "syslog-facility",
        "syslog-ident",
        "tcp-backlog",
        "tcp-keepalive",
        "timeout",
        "tls-port",
        "tls-ciphersuites",
        "tracking-table-max-keys",
        "unixsocket",
        "unixsocketperm",
        "watchdog-period",
        "use-exit-on-panic",
    }
    assert not names - set(BY_NAME)


def test_memtoull_and_repr() -> None:
    assert memtoull("10") == 10
    assert memtoull("1k") == 1000
    assert memtoull("1KB") == 1024
    assert memtoull("2gb") == 2 * 1024**3
    assert memtoull("") == 0
    assert memtoull("-1") is None
    assert memtoull("1tb") is None
    assert memtoull("1.5mb") is None
    assert sds_repr('a "b"\n\x01\\') == '"a \\"b\\"\\n\\x01\\\\"'


def test_keyspace_events_rendering() -> None:
    assert canonical_keyspace_events("KEA") == "AKE"
    assert canonical_keyspace_events("Ex$g") == "g$xE"
    assert canonical_keyspace_events("g$lshzxetdK") == "AK"
    assert canonical_keyspace_events("mn") == "nm"
    assert canonical_keyspace_events("") == ""


def test_config_get_names() -> None:
    cfg = Config()
    assert cfg.get_names("MAXMEMORY") == ["MAXMEMORY"]
    assert cfg.get_names("nosuch") == []
    assert set(cfg.get_names("hash-max-*")) == {
        "hash-max-listpack-entries",
        "hash-max-listpack-value",
        "hash-max-ziplist-entries",
        "hash-max-ziplist-value",
    }
    assert "rdb-key-save-delay" not in cfg.get_names("rdb*")  # hidden: exact name only
    assert cfg.get_names("rdb-key-save-delay") == ["rdb-key-save-delay"]
    assert cfg.get_names("*MAXMEMORY-P*") == ["maxmemory-policy"]


# ----------------------------------------------------------------------- command line


@pytest.mark.parametrize(
    "argv,conf,options",
    [
        ([], None, ""),
        (["--port", "7000"], None, 'port "7000" '),
        (
            ["/x.conf", "--port", "7000", "--save", "--appendonly", "yes"],
            "/x.conf",
            'port "7000" \nsave ""\nappendonly "yes" ',
        ),
        (["--save"], None, 'save ""'),
        (["--save", "900", "1", "--bind", "a b"], None, 'save "900" "1" \nbind "a b" '),
        (["--port 7000"], None, "port 7000 "),
        (["-"], "-", ""),
        (["--loglevel", "verbose", "-"], "-", 'loglevel "verbose" '),
    ],
)
def test_command_line_like_redis(argv: list[str], conf: str | None, options: str) -> None:
    assert parse_command_line(argv) == (conf, options)


# ------------------------------------------------------------------------ CONFIG REWRITE


def _rewrite(tmp_path: Path, original: str, changes: dict[str, str]) -> str:
    path = tmp_path / "r.conf"
    path.write_text(original)
    cfg = Config()
    load_conf_text(
        "\n".join(x for x in original.split("\n") if "unknown" not in x and "include" not in x), cfg
    )
    for name, value in changes.items():
        cfg.values[BY_NAME[name].name] = cfg.parse_value(
            BY_NAME[name], value.split(" ") if BY_NAME[name].multi_arg else [value]
        )
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        rewrite_config(str(path), cfg)
    finally:
        os.chdir(cwd)
    return path.read_text()


def test_rewrite_keeps_comments_and_order(tmp_path: Path) -> None:
    original = (
        "# top comment\n"
        "port 6379\n"
        "\n"
        "\n"
        "# memory\n"
        "maxmemory 1mb\n"
        "  unknown-directive 1\n"
        "save 900 1\n"
        "save 300 10\n"
        "save 60 100\n"
        "hash-max-ziplist-entries 100\n"
        "include /etc/nothing.conf\n"
        'rename-command KEYS ""\n'
        "maxmemory 2mb\n"
        "dbfilename dump.rdb\n"
    )
    out = _rewrite(
        tmp_path,
        original,
        {"maxmemory": "64mb", "save": "100 1", "hz": "20", "hash-max-listpack-entries": "300"},
    )
    assert out == (
        "# top comment\n"
        "port 6379\n"
        "\n"
        "# memory\n"
        "maxmemory 64mb\n"
        "# ??? unknown-directive 1\n"
        "save 100 1\n"
        "\n"
        "hash-max-listpack-entries 300\n"
        "include /etc/nothing.conf\n"
        'rename-command KEYS ""\n'
        "\n"
        'dbfilename "dump.rdb"\n'
        "\n"
        "# Generated by CONFIG REWRITE\n"
        "hz 20\n"
        "latency-tracking-info-percentiles 50 99 99.9\n"
        f'dir "{tmp_path}"\n'
        "user default on nopass ~* &* +@all\n"
    )


def test_rewrite_is_idempotent_and_keeps_signature(tmp_path: Path) -> None:
    out1 = _rewrite(
        tmp_path,
        "port 7000\n",
        {"maxmemory": "5gb", "notify-keyspace-events": "KEA", "requirepass": "pw"},
    )
    assert 'notify-keyspace-events "AKE"' in out1 and "maxmemory 5gb" in out1
    assert 'requirepass "pw"' in out1 and out1.count("# Generated by CONFIG REWRITE") == 1
    assert "user default on #" in out1
    path = tmp_path / "r.conf"
    cfg = Config()
    load_conf_text(out1, cfg)
    rewrite_config(str(path), cfg)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        rewrite_config(str(path), cfg)
    finally:
        os.chdir(cwd)
    assert path.read_text() == out1 + "\n"  # like Redis: the final newline adds an empty line


def test_rewrite_special_options(tmp_path: Path) -> None:
    out = _rewrite(
        tmp_path,
        "bind 127.0.0.1\nsave 1 1\nclient-output-buffer-limit normal 0 0 0\n",
        {
            "bind": "* -::*",
            "save": "",
            "client-output-buffer-limit": "pubsub 64mb 16mb 90",
            "unixsocketperm": "750",
            "stream-node-max-bytes": "4096",
        },
    )
    lines = out.splitlines()
    assert "bind 127.0.0.1" not in out  # back at the default: the line goes
    assert 'save ""' in lines
    assert "client-output-buffer-limit normal 0 0 0" in lines
    assert "client-output-buffer-limit pubsub 64mb 16mb 90" in lines
    assert "unixsocketperm 750" in lines
    assert not any(line.startswith("stream-node-max-bytes") for line in lines)


def test_every_option_renders_and_reparses() -> None:
    cfg = Config()
    for opt in OPTIONS:
        text = cfg.render(opt.name)
        if opt.name in ("dir",):
            continue
        words = text.split(" ") if opt.multi_arg else [text]
        if opt.name == "client-output-buffer-limit" or (opt.multi_arg and not text):
            continue
        assert cfg.parse_value(opt, words) == cfg.values[opt.name], opt.name
