-- ember's Lua sandbox (one per Lua VM: the EVAL VM and the FUNCTION VM).
--
-- Runs once with the real global table; user code never sees it. User code runs with
-- a readonly proxy of a sandbox table as its environment, like Redis 7.0's protected
-- globals: reading a missing global and writing any global are errors. Library tables
-- (string, math, redis...) are readonly proxies too. Python helpers arrive in H.
local H, MODE, HOOK_COUNT = ...

local dbg = debug
local getinfo, sethook = dbg.getinfo, dbg.sethook
local type, error, tostring, select, next, pairs = type, error, tostring, select, next, pairs
local rawget, rawset, setmetatable, getmetatable = rawget, rawset, setmetatable, getmetatable
local loadstring, setfenv, xpcall, pcall, unpack = loadstring, setfenv, xpcall, pcall, unpack
local floor = math.floor
local co_create, co_wrap, co_resume = coroutine.create, coroutine.wrap, coroutine.resume
local sfind, ssub, sbyte, sgsub = string.find, string.sub, string.byte, string.gsub
local tconcat = table.concat

local INTERNAL = "=ember"

-- ----------------------------------------------------------------- positions / errors
local function where(level)
  local i = getinfo(level + 1, "Sl")
  if i and i.currentline and i.currentline > 0 then
    return i.short_src .. ":" .. i.currentline .. ": "
  end
  return ""
end

local function typename(n, v)
  if n == 0 then return "no value" end
  return type(v)
end

-- "bad argument" error reported at the position of the wrapper's caller
local function argerror(narg, fname, msg)
  local ar = getinfo(2, "n")
  local name = (ar and ar.name) or fname
  error(where(3) .. "bad argument #" .. narg .. " to '" .. name .. "' (" .. msg .. ")", 0)
end

-- ----------------------------------------------------------------- readonly tables
local backing = setmetatable({}, { __mode = "k" }) -- proxy -> real table
local fake_mt = setmetatable({}, { __mode = "k" }) -- proxy -> what getmetatable returns

local function ro_newindex()
  error("Attempt to modify a readonly table", 2)
end

local function readonly(t, shown_mt)
  local p = {}
  setmetatable(p, { __index = t, __newindex = ro_newindex })
  backing[p] = t
  fake_mt[p] = shown_mt
  return p
end

local function nonexistent(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end

local function err_table_mt(t)
  return setmetatable(t, { __index = nonexistent })
end

-- ----------------------------------------------------------------- error handler
-- Python helpers raise their errors as Python exceptions (userdata in Lua): kind 1
-- carries an {err=...} table, kind 2 a message that gets the caller's position like
-- luaL_error. Python functions are C functions for Lua, so the caller's frame is kept
-- even for "return redis.call(...)" (a Lua wrapper would be tail-called away).
local py_unwrap = H.unwrap

local function position(i)
  if i and i.source ~= INTERNAL and i.currentline and i.currentline > 0 then
    return i.short_src .. ":" .. i.currentline .. ": "
  end
  return ""
end

-- turn our Python errors into Lua values; `caller` is getinfo of the raiser's caller
local function py_error(e, caller)
  if type(e) == "userdata" then
    local kind, payload = py_unwrap(e)
    if kind == 1 then return payload end
    if kind == 2 then return position(caller) .. payload end
  end
  return e
end

-- Redis's __redis__err__handler: the position is the first Lua frame above C code;
-- frames of this file are skipped (they are Redis's C code in the original).
local function errh(err)
  err = py_error(err, getinfo(3, "Sl"))
  local found, lvl = {}, 2
  while #found < 2 do
    local i = getinfo(lvl, "nSl")
    if not i then break end
    if i.source ~= INTERNAL then found[#found + 1] = i end
    lvl = lvl + 1
  end
  local i = found[1]
  if i and i.what == "C" then i = found[2] end
  if type(err) ~= "table" then
    err = { err = "ERR " .. tostring(err) }
  end
  if i then
    err["source"] = i.source
    err["line"] = i.currentline
  end
  return err
end

-- ----------------------------------------------------------------- hook (busy scripts)
local py_check = H.check
local hook
hook = function()
  local running = getinfo(2, "S")
  if running and running.source == INTERNAL then return end
  if py_check() then
    -- killed: fire on every line from now on so that pcall cannot swallow it
    sethook(hook, "l")
    error(H.kill_error(), 0)
  end
end

local function hook_on(co)
  if HOOK_COUNT > 0 then
    if co then sethook(co, hook, "", HOOK_COUNT) else sethook(hook, "", HOOK_COUNT) end
  end
end

-- ----------------------------------------------------------------- the user environment
local sandbox = {}
local G = {}
setmetatable(G, { __index = sandbox, __newindex = ro_newindex })
backing[G] = sandbox
local G_mt_shown = readonly({})
fake_mt[G] = G_mt_shown
err_table_mt(sandbox)

local function s_pairs(...)
  local t = ...
  local b = backing[t]
  if b then return next, b, nil end
  if type(t) ~= "table" then
    argerror(1, "pairs", "table expected, got " .. typename(select("#", ...), t))
  end
  return next, t, nil
end

local function s_next(...)
  local t, k = ...
  local b = backing[t]
  if b then return next(b, k) end
  if type(t) ~= "table" then
    argerror(1, "next", "table expected, got " .. typename(select("#", ...), t))
  end
  return next(t, k)
end

local function s_rawget(...)
  local t, k = ...
  local b = backing[t]
  if b then return rawget(b, k) end
  if type(t) ~= "table" then
    argerror(1, "rawget", "table expected, got " .. typename(select("#", ...), t))
  end
  return rawget(t, k)
end

local function s_rawset(...)
  local t, k, v = ...
  if backing[t] then error("Attempt to modify a readonly table", 0) end
  if type(t) ~= "table" then
    argerror(1, "rawset", "table expected, got " .. typename(select("#", ...), t))
  end
  if k == nil then argerror(2, "rawset", "value expected") end
  return rawset(t, k, v)
end

local function s_setmetatable(...)
  local t, m = ...
  if backing[t] then error("Attempt to modify a readonly table", 0) end
  if type(t) ~= "table" then
    argerror(1, "setmetatable", "table expected, got " .. typename(select("#", ...), t))
  end
  if m ~= nil and type(m) ~= "table" then
    argerror(2, "setmetatable", "nil or table expected")
  end
  return setmetatable(t, m)
end

local function s_getmetatable(...)
  if select("#", ...) == 0 then argerror(1, "getmetatable", "value expected") end
  local t = ...
  if backing[t] then return fake_mt[t] end
  return getmetatable(t)
end

-- loadstring/load: chunks run in the user environment; binary chunks are parsed as text
-- (Redis 7.0 refuses to load bytecode this way).
local function s_loadstring(...)
  local s, name = ...
  if type(s) ~= "string" and type(s) ~= "number" then
    argerror(1, "loadstring", "string expected, got " .. typename(select("#", ...), s))
  end
  s = tostring(s)
  local chunkname = name or s
  if sbyte(s, 1) == 27 then s = " " .. s end
  local f, e = loadstring(s, chunkname)
  if f then setfenv(f, G) end
  return f, e
end

local function s_load(...)
  local fn, name = ...
  if type(fn) ~= "function" then
    argerror(1, "load", "function expected, got " .. typename(select("#", ...), fn))
  end
  local parts = {}
  while true do
    local piece = fn()
    if piece == nil or piece == "" then break end
    if type(piece) ~= "string" then return nil, "reader function must return a string" end
    parts[#parts + 1] = piece
  end
  return s_loadstring(tconcat(parts), name or "=(load)")
end

-- coroutines get the busy-script hook too
local function s_co_create(f)
  local co = co_create(f)
  hook_on(co)
  return co
end

local function s_co_wrap(f)
  local co = s_co_create(f)
  return function(...)
    local r = { co_resume(co, ...) }
    if not r[1] then error(r[2], 0) end
    return unpack(r, 2)
  end
end

local coroutine_t = {}
for k, v in pairs(coroutine) do coroutine_t[k] = v end
coroutine_t.create = s_co_create
coroutine_t.wrap = s_co_wrap

-- math.random / math.randomseed: Redis's process-wide redisLrand48 generator (Python)
local m_random, m_randomseed = H.random, H.randomseed

local math_t = {}
for k, v in pairs(math) do math_t[k] = v end
math_t.random = m_random
math_t.randomseed = m_randomseed

-- ----------------------------------------------------------------- the redis table
local function push_error(msg)
  return { err = "ERR " .. msg }
end

-- luaPushErrorBuff: "-CODE msg" keeps its code, anything else gets ERR
local function error_buff(s)
  local code, msg
  if ssub(s, 1, 1) == "-" then
    local sp = sfind(s, " ", 1, true)
    if not sp then
      code, msg = "ERR", ssub(s, 2)
    else
      code, msg = ssub(s, 2, sp - 1), ssub(s, sp + 1)
    end
  else
    code, msg = "ERR", s
  end
  msg = sgsub(sgsub(msg, "^[\r\n]+", ""), "[\r\n]+$", "")
  return { err = code .. " " .. msg }
end

local redis = {}
redis.call = H.call
redis.pcall = H.pcall
redis.sha1hex = H.sha1hex
redis.log = H.log
redis.setresp = H.setresp
redis.set_repl = H.set_repl
redis.acl_check_cmd = H.acl_check

redis.error_reply = function(...)
  local s = ...
  if select("#", ...) ~= 1 or type(s) ~= "string" then
    return push_error("wrong number or type of arguments")
  end
  if ssub(s, 1, 1) ~= "-" then s = "-" .. s end
  return error_buff(s)
end

redis.status_reply = function(...)
  local s = ...
  if select("#", ...) ~= 1 or type(s) ~= "string" then
    return push_error("wrong number or type of arguments")
  end
  return { ok = s }
end

redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION = H.version
redis.REDIS_VERSION_NUM = H.version_num

if MODE == "eval" then
  redis.replicate_commands = function() return true end
  redis.breakpoint = function() return false end
  redis.debug = function() end
end

-- ----------------------------------------------------------------- sandbox contents
for _, name in ipairs({
  "assert", "collectgarbage", "error", "gcinfo", "ipairs", "rawequal",
  "select", "tonumber", "tostring", "type", "unpack", "xpcall", "_VERSION",
}) do
  sandbox[name] = _G[name]
end
-- Redis's pcall: an error table raised by redis.call & co becomes its err string
local function pack_n(...)
  return select("#", ...), { ... }
end

local function pcall_handler(e)
  return py_error(e, getinfo(3, "Sl"))
end

local function s_pcall(...)
  local n = select("#", ...)
  if n == 0 then argerror(1, "pcall", "value expected") end
  local args = { ... }
  local f = args[1]
  local tf = type(f)
  if tf ~= "function" and tf ~= "userdata" and not (getmetatable(f) and getmetatable(f).__call) then
    return false, "attempt to call a " .. tf .. " value"
  end
  local rn, r = pack_n(xpcall(function() return f(unpack(args, 2, n)) end, pcall_handler))
  if not r[1] then
    local e = r[2]
    if type(e) == "table" then
      local m = e.err
      if type(m) == "string" or type(m) == "number" then return false, m end
    end
    return false, e
  end
  return unpack(r, 1, rn)
end

sandbox.pairs = s_pairs
sandbox.next = s_next
sandbox.rawget = s_rawget
sandbox.pcall = s_pcall
sandbox.rawset = s_rawset
sandbox.setmetatable = s_setmetatable
sandbox.getmetatable = s_getmetatable
sandbox.loadstring = s_loadstring
sandbox.load = s_load
sandbox._G = G
sandbox.string = readonly(string)
sandbox.table = readonly(table)
sandbox.math = readonly(math_t)
sandbox.coroutine = readonly(coroutine_t)
sandbox.redis = readonly(redis)
-- ----------------------------------------------------------------- cjson, cmsgpack, bit, struct
-- Implemented in Python (ember.scripting.libs); errors are raised at the caller's line.
local NULL = newproxy(false)
local L = H.libs
local cjson = {
  encode = L.cjson_encode, decode = L.cjson_decode, null = NULL,
  _NAME = "cjson", _VERSION = "2.1.0",
  encode_sparse_array = function() end, encode_max_depth = function() end,
  decode_max_depth = function() end, encode_number_precision = function() end,
  encode_keep_buffer = function() end, encode_invalid_numbers = function() end,
  decode_invalid_numbers = function() end,
}
cjson.new = function() return cjson end
local cmsgpack = {
  pack = L.msgpack_pack, unpack = L.msgpack_unpack,
  unpack_one = L.msgpack_unpack_one, unpack_limit = L.msgpack_unpack_limit,
  _NAME = "cmsgpack", _VERSION = "lua-cmsgpack 0.4.0",
  _COPYRIGHT = "Copyright (C) 2012, Salvatore Sanfilippo",
  _DESCRIPTION = "MessagePack C implementation for Lua",
}
local bit = {}
for _, n in ipairs({ "tobit", "tohex", "bnot", "band", "bor", "bxor", "lshift", "rshift",
                     "arshift", "rol", "ror", "bswap" }) do
  bit[n] = L["bit_" .. n]
end
local struct = { pack = L.struct_pack, unpack = L.struct_unpack, size = L.struct_size }
sandbox.cjson = readonly(cjson)
sandbox.cmsgpack = readonly(cmsgpack)
sandbox.bit = readonly(bit)
sandbox.struct = readonly(struct)
if MODE == "eval" then
  sandbox.__redis__err__handler = errh
end

-- the string metatable must not be a way to change other scripts' strings
local smt = getmetatable("")
smt.__metatable = readonly(smt)

-- ----------------------------------------------------------------- FUNCTION LOAD env
local load_api, load_redis
local py_register = H.register_function
local FN_FLAGS = {
  ["no-writes"] = true, ["allow-oom"] = true, ["allow-stale"] = true,
  ["no-cluster"] = true, ["allow-cross-slot-keys"] = true,
}

local function is_str(v)
  local t = type(v)
  return t == "string" or t == "number"
end

local function register_function(...)
  local n = select("#", ...)
  if n < 1 or n > 2 then
    error(push_error("wrong number of arguments to redis.register_function"), 0)
  end
  local name, cb, flags, desc
  if n == 1 then
    local t = ...
    if type(t) ~= "table" then
      error(push_error("calling redis.register_function with a single argument is only "
        .. "applicable to Lua table (representing named arguments)."), 0)
    end
    for k, v in next, t do
      if not is_str(k) then
        error(push_error("named argument key given to redis.register_function is not a string"), 0)
      end
      local key = string.lower(tostring(k))
      if key == "function_name" then
        if not is_str(v) then
          error(push_error("function_name argument given to redis.register_function must be a string"), 0)
        end
        name = tostring(v)
      elseif key == "description" then
        if not is_str(v) then
          error(push_error("description argument given to redis.register_function must be a string"), 0)
        end
        desc = tostring(v)
      elseif key == "callback" then
        if type(v) ~= "function" then
          error(push_error("callback argument given to redis.register_function must be a function"), 0)
        end
        cb = v
      elseif key == "flags" then
        if type(v) ~= "table" then
          error(push_error("flags argument to redis.register_function must be a table "
            .. "representing function flags"), 0)
        end
        flags = {}
        for _, f in next, v do
          if type(f) ~= "string" or not FN_FLAGS[f] then
            error(push_error("unknown flag given"), 0)
          end
          flags[#flags + 1] = f
        end
      else
        error(push_error("unknown argument given to redis.register_function"), 0)
      end
    end
    if name == nil then
      error(push_error("redis.register_function must get a function name argument"), 0)
    end
    if cb == nil then
      error(push_error("redis.register_function must get a callback argument"), 0)
    end
  else
    name, cb = ...
    if not is_str(name) then
      error(push_error("first argument to redis.register_function must be a string"), 0)
    end
    if type(cb) ~= "function" then
      error(push_error("second argument to redis.register_function must be a function"), 0)
    end
    name = tostring(name)
  end
  local e = py_register(name, cb, flags or {}, desc)
  if e then error(push_error(e), 0) end
end

if MODE == "function" then
  load_redis = err_table_mt({
    register_function = register_function,
    log = redis.log,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REDIS_VERSION = redis.REDIS_VERSION,
    REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
  })
  load_api = err_table_mt({ redis = readonly(load_redis) })
end

local G_meta = getmetatable(G)

-- ----------------------------------------------------------------- API for Python
local api = {}

function api.compile(body, chunkname)
  local f, e = loadstring(body, chunkname)
  if not f then return nil, e end
  setfenv(f, G)
  return f, nil
end

-- EVAL: run f with KEYS/ARGV set; FCALL: run f(keys, args)
function api.run_eval(f, keys, argv)
  rawset(sandbox, "KEYS", keys)
  rawset(sandbox, "ARGV", argv)
  hook_on()
  local ok, r = xpcall(f, errh)
  sethook()
  return ok, r
end

function api.run_function(f, keys, args)
  hook_on()
  local ok, r = xpcall(function() return f(keys, args) end, errh)
  sethook()
  return ok, r
end

-- FUNCTION LOAD: the chunk runs with only the load-time API visible
function api.load_library(f)
  G_meta.__index = load_api
  hook_on()
  local ok, e = pcall(f)
  sethook()
  G_meta.__index = sandbox
  return ok, e
end

api.null = NULL

function api.is_function(v)
  return type(v) == "function"
end

function api.is_string(v)
  local t = type(v)
  return t == "string" or t == "number"
end

function api.error_info(e)
  if type(e) == "table" then
    return e.err, e.source, e.line
  end
  return tostring(e), nil, nil
end

return api
