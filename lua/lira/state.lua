-- lira.state: the durable store from Lua (LUA-API.md §4, docs/state.md).
--
--   lira.checkpoint(name)              -> :get() / :set(value) / :reset()
--   lira.state(namespace)              -> :get(k) / :set(k, v[, ttl]) / :delete(k) / :keys([prefix])
--   lira.idempotency.key(scope, id[, ttl]) -> a key object (tostring = the key), :done()
--
-- Values are any JSON-encodable Lua value (lira.null, lira.array(t) and
-- nesting included), stored as the JSON text core.json_encode writes and
-- read back with core.json_decode. Each write is one commit.
--
-- The C side (src/lua/lua_store.c) holds one store handle per engine and
-- opens it on first use: LIRA_STATE, else .lira/state.db. Misuse raises a
-- "bad argument" string; a store failure (locked, read-only, corrupt, newer
-- schema, not a lira file, disk full) raises a lira error table whose
-- tostring is "kind: message", the message naming the file and what to do.
local core = require "lira.core"

local M = {}

local DAY = 86400

-- --------------------------------------------------------------- helpers ---

local function argerror(n, fname, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), level + 1)
end

local function check_name(v, n, fname, what, level)
  if type(v) ~= "string" or v == "" then
    argerror(n, fname, ("%s must be a non-empty string, got %s"):format(
      what, type(v) == "string" and "an empty string" or type(v)), level + 1)
  end
  if v:find("\0", 1, true) then
    argerror(n, fname, what .. " must not contain NUL bytes", level + 1)
  end
  return v
end

local function check_ttl(v, n, fname, level)
  if v == nil then return nil end
  if type(v) ~= "number" or not (v > 0) or v == math.huge then
    argerror(n, fname, ("ttl must be a positive number of seconds, got %s"):format(tostring(v)),
             level + 1)
  end
  return v
end

-- The receiver of a method call, or a clear error for obj.method(...).
local function check_self(self, mt, what, method, level)
  if getmetatable(self) ~= mt then
    error(("bad self to '%s' (call it as %s:%s(...))"):format(method, what, method), level + 1)
  end
  return self
end

local function encode(v, who, level)
  if v == nil then
    error(who .. ": value is nil (use :reset() or :delete() to remove it; lira.null " ..
          "stores JSON null)", level + 1)
  end
  local ok, s = pcall(core.json_encode, v)
  if not ok then error(who .. ": " .. tostring(s), level + 1) end
  return s
end

local function decode(s, who)
  local ok, v = pcall(core.json_decode, s)
  if not ok then
    error(who .. ": the stored value is not valid JSON (" .. tostring(v) .. "); " ..
          "overwrite it with :set() or remove it", 0)
  end
  return v
end

-- ----------------------------------------------------------- checkpoints ---

local Checkpoint = { __name = "lira.Checkpoint" }
Checkpoint.__index = Checkpoint

function Checkpoint:__tostring()
  return ("lira.checkpoint(%q)"):format(self.name)
end

-- checkpoint:get() -> value (nil when none), updated_at (epoch seconds)
function Checkpoint:get()
  check_self(self, Checkpoint, "checkpoint", "get", 2)
  local s, at = core.checkpoint_get(self.name)
  if s == nil then return nil end
  return decode(s, tostring(self)), at
end

-- checkpoint:set(value): one commit.
function Checkpoint:set(value)
  check_self(self, Checkpoint, "checkpoint", "set", 2)
  core.checkpoint_set(self.name, encode(value, tostring(self) .. ":set", 2))
end

-- checkpoint:reset(): forget it (harmless when absent).
function Checkpoint:reset()
  check_self(self, Checkpoint, "checkpoint", "reset", 2)
  core.checkpoint_reset(self.name)
end

-- lira.checkpoint(name)
function M.checkpoint(name)
  check_name(name, 1, "lira.checkpoint", "name", 2)
  return setmetatable({ name = name }, Checkpoint)
end

-- ------------------------------------------------------------- kv state ---

local State = { __name = "lira.State" }
State.__index = State

function State:__tostring()
  return ("lira.state(%q)"):format(self.namespace)
end

-- state:get(key) -> value or nil (also nil once its ttl has passed)
function State:get(key)
  check_self(self, State, "state", "get", 2)
  check_name(key, 1, "get", "key", 2)
  local s = core.kv_get(self.namespace, key)
  if s == nil then return nil end
  return decode(s, ("%s:get(%q)"):format(tostring(self), key))
end

-- state:set(key, value[, ttl_seconds]): one commit; no ttl = kept until deleted.
function State:set(key, value, ttl)
  check_self(self, State, "state", "set", 2)
  check_name(key, 1, "set", "key", 2)
  check_ttl(ttl, 3, "set", 2)
  core.kv_set(self.namespace, key, encode(value, ("%s:set(%q)"):format(tostring(self), key), 2),
              ttl)
end

-- state:delete(key) -> true when the key was there
function State:delete(key)
  check_self(self, State, "state", "delete", 2)
  check_name(key, 1, "delete", "key", 2)
  return core.kv_delete(self.namespace, key)
end

-- state:keys([prefix]) -> sorted array (byte order) of the live keys starting
-- with prefix. Read in pages of core.store_list_max rows, so the store never
-- holds more than one page in memory; the result holds them all.
function State:keys(prefix)
  check_self(self, State, "state", "keys", 2)
  if prefix == nil then prefix = "" end
  if type(prefix) ~= "string" or prefix:find("\0", 1, true) then
    argerror(1, "keys", "prefix must be a string without NUL bytes", 2)
  end
  local out, after, page = {}, nil, core.store_list_max
  repeat
    local t = core.kv_list(self.namespace, prefix, after, page)
    table.move(t, 1, #t, #out + 1, out)
    after = t[#t]
  until #t < page
  return out
end

-- lira.state(namespace)
function M.state(namespace)
  check_name(namespace, 1, "lira.state", "namespace", 2)
  return setmetatable({ namespace = namespace }, State)
end

-- -------------------------------------------------- idempotency journal ---

local Key = { __name = "lira.IdempotencyKey" }
Key.__index = Key

function Key:__tostring()
  return self.key
end

function Key.__concat(a, b)
  return tostring(a) .. tostring(b)
end

function Key.__eq(a, b)
  return a.key == b.key
end

-- key:done(): the operation finished; the entry stays until it expires so a
-- late rerun still finds the same key (with completed = true). Returns
-- whether the entry was still there.
function Key:done()
  check_self(self, Key, "key", "done", 2)
  local ok = core.idem_done(self.scope, self.id)
  if ok then self.completed = true end
  return ok
end

-- key:forget(): remove the entry now (the next key() for the same operation
-- gets a new key). Returns whether it was there.
function Key:forget()
  check_self(self, Key, "key", "forget", 2)
  return core.idem_forget(self.scope, self.id)
end

M.idempotency = {}

-- lira.idempotency.key(scope, id[, ttl_seconds]) -> key object
--   tostring(k) / k.key   the Idempotency-Key to send (a UUIDv4)
--   k.created             true when this call stored it (first run)
--   k.completed           true when :done() was called on it (in any run)
--   k.created_at, k.expires_at   epoch seconds
-- ttl defaults to 24 h (how long APIs such as Stripe keep their keys).
function M.idempotency.key(scope, id, ttl)
  local fname = "lira.idempotency.key"
  check_name(scope, 1, fname, "scope", 2)
  if math.type(id) == "integer" then id = tostring(id) end
  check_name(id, 2, fname, "id", 2)
  ttl = check_ttl(ttl, 3, fname, 2) or DAY
  local key, created, created_at, expires_at, completed =
    core.idem_key(scope, id, core.uuid4(), ttl)
  return setmetatable({ key = key, created = created, completed = completed, scope = scope,
                        id = id, created_at = created_at, expires_at = expires_at }, Key)
end

-- Whether v is a key object (lira.client sends tostring(v) for it).
function M.is_key(v)
  return getmetatable(v) == Key
end

M.default_idempotency_ttl = DAY

return M
