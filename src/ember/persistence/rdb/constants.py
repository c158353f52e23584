"""RDB constants, named as in Redis ``src/rdb.h`` (and Valkey where they differ).

rdb-format.md §1-§12. Only values live here; the codec modules import them.
"""

from __future__ import annotations

from typing import Final

# --- versions (rdb-format.md §1.1) -------------------------------------------------
RDB_VERSION: Final = 10  # what ember writes by default (Redis 7.0 format)
RDB_MAX_READ_VERSION: Final = 12  # highest REDIS00NN the reader accepts
RDB_VALKEY_MIN_VERSION: Final = 80  # VALKEY080 = Valkey 9.0/9.1
RDB_VALKEY_MAX_VERSION: Final = 81  # VALKEY081 = Valkey 9.2 (magic accepted)
RDB_FOREIGN_VERSION_MIN: Final = 12  # Valkey reserves 12..79 for Redis-only formats
RDB_MAGIC_REDIS: Final = b"REDIS"
RDB_MAGIC_VALKEY: Final = b"VALKEY"
REDIS_VERSION_STRING: Final = "7.0.15"  # written as the ``redis-ver`` AUX field

# --- length encoding (§2) -----------------------------------------------------------
RDB_6BITLEN: Final = 0
RDB_14BITLEN: Final = 1
RDB_32BITLEN: Final = 0x80
RDB_64BITLEN: Final = 0x81
RDB_ENCVAL: Final = 3

# --- string encodings (§3), the low 6 bits after ``11`` -----------------------------
RDB_ENC_INT8: Final = 0
RDB_ENC_INT16: Final = 1
RDB_ENC_INT32: Final = 2
RDB_ENC_LZF: Final = 3

# --- object types (§7) --------------------------------------------------------------
RDB_TYPE_STRING: Final = 0
RDB_TYPE_LIST: Final = 1
RDB_TYPE_SET: Final = 2
RDB_TYPE_ZSET: Final = 3
RDB_TYPE_HASH: Final = 4
RDB_TYPE_ZSET_2: Final = 5
RDB_TYPE_MODULE_PRE_GA: Final = 6
RDB_TYPE_MODULE_2: Final = 7
RDB_TYPE_HASH_ZIPMAP: Final = 9
RDB_TYPE_LIST_ZIPLIST: Final = 10
RDB_TYPE_SET_INTSET: Final = 11
RDB_TYPE_ZSET_ZIPLIST: Final = 12
RDB_TYPE_HASH_ZIPLIST: Final = 13
RDB_TYPE_LIST_QUICKLIST: Final = 14
RDB_TYPE_STREAM_LISTPACKS: Final = 15
RDB_TYPE_HASH_LISTPACK: Final = 16
RDB_TYPE_ZSET_LISTPACK: Final = 17
RDB_TYPE_LIST_QUICKLIST_2: Final = 18
RDB_TYPE_STREAM_LISTPACKS_2: Final = 19
RDB_TYPE_SET_LISTPACK: Final = 20
RDB_TYPE_STREAM_LISTPACKS_3: Final = 21
RDB_TYPE_HASH_METADATA_PRE_GA: Final = 22  # Redis 7.4-rc
RDB_TYPE_HASH_LISTPACK_EX_PRE_GA: Final = 23  # Redis 7.4-rc
RDB_TYPE_HASH_METADATA: Final = 24  # Redis >= 7.4
RDB_TYPE_HASH_LISTPACK_EX: Final = 25  # Redis >= 7.4
RDB_TYPE_HASH_2: Final = 22  # Valkey 9 (same byte as Redis HASH_METADATA_PRE_GA: §10)

# redis-check-rdb's names for the type bytes (redis-check-rdb.c rdb_type_string)
RDB_TYPE_NAMES: Final[dict[int, str]] = {
    0: "string",
    1: "list-linked",
    2: "set-hashtable",
    3: "zset-v1",
    4: "hash-hashtable",
    5: "zset-v2",
    6: "module-pre-release",
    7: "module-value",
    9: "hash-zipmap",
    10: "list-ziplist",
    11: "set-intset",
    12: "zset-ziplist",
    13: "hash-ziplist",
    14: "quicklist",
    15: "stream",
    16: "hash-listpack",
    17: "zset-listpack",
    18: "quicklist-v2",
    19: "stream-v2",
    20: "set-listpack",
    21: "stream-v3",
    22: "hash-hashtable-md-pre-release",
    23: "hash-listpack-md-pre-release",
    24: "hash-hashtable-md",
    25: "hash-listpack-md",
}
VALKEY_TYPE_NAMES: Final[dict[int, str]] = {22: "hash-2"}

# --- opcodes (§5) -------------------------------------------------------------------
RDB_OPCODE_SLOT_IMPORT: Final = 243  # Valkey 9 (Redis 8.6 reuses 243 as KEY_META)
RDB_OPCODE_SLOT_INFO: Final = 244
RDB_OPCODE_FUNCTION2: Final = 245
RDB_OPCODE_FUNCTION_PRE_GA: Final = 246
RDB_OPCODE_MODULE_AUX: Final = 247
RDB_OPCODE_IDLE: Final = 248
RDB_OPCODE_FREQ: Final = 249
RDB_OPCODE_AUX: Final = 250
RDB_OPCODE_RESIZEDB: Final = 251
RDB_OPCODE_EXPIRETIME_MS: Final = 252
RDB_OPCODE_EXPIRETIME: Final = 253
RDB_OPCODE_SELECTDB: Final = 254
RDB_OPCODE_EOF: Final = 255

# --- module serialization (§11) -----------------------------------------------------
RDB_MODULE_OPCODE_EOF: Final = 0
RDB_MODULE_OPCODE_SINT: Final = 1
RDB_MODULE_OPCODE_UINT: Final = 2
RDB_MODULE_OPCODE_FLOAT: Final = 3
RDB_MODULE_OPCODE_DOUBLE: Final = 4
RDB_MODULE_OPCODE_STRING: Final = 5
REDISMODULE_AUX_BEFORE_RDB: Final = 1
REDISMODULE_AUX_AFTER_RDB: Final = 2
MODULE_TYPE_NAME_CHARSET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# --- quicklist containers (§8.5) ----------------------------------------------------
QUICKLIST_NODE_CONTAINER_PLAIN: Final = 1
QUICKLIST_NODE_CONTAINER_PACKED: Final = 2

# --- streams (§9; redis t_stream.c) -------------------------------------------------
STREAM_ITEM_FLAG_NONE: Final = 0
STREAM_ITEM_FLAG_DELETED: Final = 1
STREAM_ITEM_FLAG_SAMEFIELDS: Final = 2

# --- hash field expiration (§10) ----------------------------------------------------
HASH_LP_NO_TTL: Final = 0
EB_EXPIRE_TIME_MAX: Final = (1 << 48) - 1
EB_EXPIRE_TIME_INVALID: Final = 1 << 48

# --- Redis 7.0 encoding thresholds (redis config.c defaults) ------------------------
LIST_MAX_LISTPACK_SIZE: Final = -2
LIST_PACKED_THRESHOLD: Final = 1 << 30
HASH_MAX_LISTPACK_ENTRIES: Final = 128
HASH_MAX_LISTPACK_VALUE: Final = 64
SET_MAX_INTSET_ENTRIES: Final = 512
SET_MAX_LISTPACK_ENTRIES: Final = 128
SET_MAX_LISTPACK_VALUE: Final = 64
ZSET_MAX_LISTPACK_ENTRIES: Final = 128
ZSET_MAX_LISTPACK_VALUE: Final = 64
STREAM_NODE_MAX_BYTES: Final = 4096
STREAM_NODE_MAX_ENTRIES: Final = 100

# quicklist.c: size classes for negative fill, safety limit, per-entry overhead estimate
QUICKLIST_OPTIMIZATION_LEVEL: Final = (4096, 8192, 16384, 32768, 65536)
QUICKLIST_SIZE_SAFETY_LIMIT: Final = 8192
QUICKLIST_SIZE_ESTIMATE_OVERHEAD: Final = 8

# DUMP payload footer (cluster.c createDumpPayload): u16 version + u64 CRC64
DUMP_FOOTER_LEN: Final = 10
