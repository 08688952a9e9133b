-- The durable store from Lua (lua/lira/state.lua over src/lua/lua_store.c):
-- checkpoints, kv state, the idempotency journal, the lazy open, and every
-- refusal of a bad file, made for real (a corrupt file, a newer schema, a
-- foreign SQLite file, a lock held by a child sqlite3 process).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

local lira = require "lira"
local core = require "lira.core"
local H = require "helpers.state"

local dir

setup(function() dir = H.tmpdir() end)
teardown(function()
  core.store_close()
  H.rmdir(dir)
end)

local n = 0
local function fresh()
  n = n + 1
  local path = ("%s/s%d/state.db"):format(dir, n)
  core.store_open(path)
  return path
end

-- The error a function raises (a lira error table for store failures).
local function raised(fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return e
end

describe("lira.checkpoint", function()
  before_each(fresh)

  it("round-trips any JSON value, one commit per set, and resets", function()
    local cp = lira.checkpoint("orders-sync")
    assert.is_nil(cp:get())
    cp:set({ cursor = "c_42", page = 7, done = false, seen = lira.array {}, last = lira.null })
    local v, at = cp:get()
    assert.same("c_42", v.cursor)
    assert.equals(7, v.page)
    assert.is_false(v.done)
    assert.equals(0, #v.seen)
    assert.equals(lira.null, v.last)
    assert.is_true(math.abs(at - os.time()) < 5)
    cp:set("plain string")
    assert.equals("plain string", lira.checkpoint("orders-sync"):get())
    cp:set(12345678901234)
    assert.equals(12345678901234, cp:get())
    assert.equals("integer", math.type(cp:get()))
    cp:reset()
    assert.is_nil(cp:get())
    cp:reset()                                       -- harmless when absent
  end)

  it("is the same row for every object of that name, and in a new connection", function()
    lira.checkpoint("a"):set({ n = 1 })
    lira.checkpoint("b"):set({ n = 2 })
    local path = core.store_info().path
    core.store_close()
    core.store_open(path)
    assert.equals(1, lira.checkpoint("a"):get().n)
    assert.equals(2, lira.checkpoint("b"):get().n)
  end)

  it("validates names and values, naming the argument", function()
    assert.has_error(function() lira.checkpoint("") end,
      "bad argument #1 to 'lira.checkpoint' (name must be a non-empty string, got an empty string)")
    assert.has_error(function() lira.checkpoint(42) end,
      "bad argument #1 to 'lira.checkpoint' (name must be a non-empty string, got number)")
    assert.has_error(function() lira.checkpoint("a\0b") end,
      "bad argument #1 to 'lira.checkpoint' (name must not contain NUL bytes)")
    local cp = lira.checkpoint("x")
    local e = raised(cp.set, cp, { f = print })
    assert.matches('lira.checkpoint("x"):set: json: cannot encode a function at .f', e, 1, true)
    e = raised(cp.set, cp, nil)
    assert.matches("value is nil", e, 1, true)
    e = raised(cp.get)
    assert.matches("call it as checkpoint:get", e, 1, true)
    assert.is_nil(cp:get())                            -- nothing was written
  end)

  it("raises the store's caps as too_big errors, writing nothing", function()
    local long = lira.checkpoint(("n"):rep(2000))
    local e = raised(long.set, long, 1)
    assert.equals("too_big", e.kind)
    assert.matches("checkpoint name is longer than 1024 bytes", e.message, 1, true)
    local cp = lira.checkpoint("big")
    e = raised(cp.set, cp, ("x"):rep(16 * 1024 * 1024 + 1))
    assert.equals("too_big", e.kind)
    assert.is_nil(cp:get())
  end)
end)

describe("lira.state", function()
  before_each(fresh)

  it("gets, sets, deletes per namespace", function()
    local a, b = lira.state("orders"), lira.state("users")
    assert.is_nil(a:get("k"))
    a:set("k", { 1, 2, 3 })
    b:set("k", "other")
    assert.same({ 1, 2, 3 }, a:get("k"))
    assert.equals("other", b:get("k"))
    assert.is_true(a:delete("k"))
    assert.is_false(a:delete("k"))
    assert.is_nil(a:get("k"))
    assert.equals("other", b:get("k"))
  end)

  it("expires a value after its ttl", function()
    local s = lira.state("ttl")
    s:set("short", 1, 0.05)
    s:set("long", 2, 3600)
    s:set("forever", 3)
    assert.equals(1, s:get("short"))
    lira.sleep(0.08)
    assert.is_nil(s:get("short"))
    assert.equals(2, s:get("long"))
    assert.same({ "forever", "long" }, s:keys())
  end)

  it("lists keys in byte order, by prefix, across several store pages", function()
    local s = lira.state("many")
    local total = core.store_list_max * 2 + 17
    for i = 1, total do s:set(("item:%05d"):format(i), i) end
    s:set("other", true)
    local keys = s:keys("item:")
    assert.equals(total, #keys)
    for i = 1, total do assert.equals(("item:%05d"):format(i), keys[i]) end
    assert.equals(total + 1, #s:keys())
    assert.same({ "other" }, s:keys("o"))
    assert.same({}, s:keys("zzz"))
  end)

  it("validates its arguments", function()
    assert.has_error(function() lira.state("") end,
      "bad argument #1 to 'lira.state' (namespace must be a non-empty string, got an empty string)")
    local s = lira.state("v")
    assert.has_error(function() s:get("") end,
      "bad argument #1 to 'get' (key must be a non-empty string, got an empty string)")
    assert.has_error(function() s:set("k", 1, 0) end,
      "bad argument #3 to 'set' (ttl must be a positive number of seconds, got 0)")
    assert.has_error(function() s:keys(5) end,
      "bad argument #1 to 'keys' (prefix must be a string without NUL bytes)")
    assert.matches("value is nil", raised(s.set, s, "k", nil), 1, true)
    local e = raised(s.set, s, ("k"):rep(9000), 1)
    assert.equals("too_big", e.kind)
    assert.matches("state key is longer than 8192 bytes", e.message, 1, true)
  end)
end)

describe("lira.idempotency.key", function()
  before_each(fresh)

  it("creates a UUIDv4 once per (scope, id) and returns it on every later call", function()
    local k = lira.idempotency.key("payments", "order-42")
    assert.is_true(k.created)
    assert.is_false(k.completed)
    assert.matches("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x+$", tostring(k))
    assert.equals(tostring(k), k.key)
    assert.equals("key=" .. k.key, "key=" .. k)
    local again = lira.idempotency.key("payments", "order-42")
    assert.is_false(again.created)
    assert.equals(k.key, again.key)
    assert.are_not.equal(k.key, lira.idempotency.key("payments", "order-43").key)
    assert.are_not.equal(k.key, lira.idempotency.key("refunds", "order-42").key)
    assert.equals(k.key, lira.idempotency.key("payments", "order-42").key)
    assert.is_true(k.expires_at - k.created_at > 86399)
  end)

  it("keeps a done key until it expires, marked completed; forget drops it", function()
    local k = lira.idempotency.key("p", 7)          -- an integer id is its decimal text
    assert.is_true(k:done())
    local again = lira.idempotency.key("p", "7")
    assert.equals(k.key, again.key)
    assert.is_true(again.completed)
    assert.is_true(again:forget())
    local fresh_key = lira.idempotency.key("p", "7")
    assert.is_true(fresh_key.created)
    assert.are_not.equal(k.key, fresh_key.key)
  end)

  it("replaces an expired key", function()
    local k = lira.idempotency.key("p", "short", 0.05)
    lira.sleep(0.08)
    local k2 = lira.idempotency.key("p", "short", 0.05)
    assert.is_true(k2.created)
    assert.are_not.equal(k.key, k2.key)
  end)

  it("validates its arguments", function()
    assert.has_error(function() lira.idempotency.key("", "x") end,
      "bad argument #1 to 'lira.idempotency.key' (scope must be a non-empty string, got an " ..
      "empty string)")
    assert.has_error(function() lira.idempotency.key("s") end,
      "bad argument #2 to 'lira.idempotency.key' (id must be a non-empty string, got nil)")
    assert.has_error(function() lira.idempotency.key("s", "x", -1) end,
      "bad argument #3 to 'lira.idempotency.key' (ttl must be a positive number of seconds, " ..
      "got -1)")
  end)
end)

describe("opening the state file", function()
  it("opens lazily from LIRA_STATE, creating the folders, mode 0600", function()
    local path = dir .. "/lazy/deeper/state.db"
    local out, ok = H.run_lua(([[
      local lira = require "lira"
      local core = require "lira.core"
      assert(core.store_info().open == false)
      lira.checkpoint("c"):set(1)
      print(core.store_info().path, core.store_info().schema)
    ]]), { LIRA_STATE = path })
    assert.is_true(ok, out)
    assert.equals(path .. "\t", out:sub(1, #path + 1))
    assert.matches("^%d+\n$", out:sub(#path + 2))
    assert.equals("-rw-------", H.mode(path))
    assert.equals("drwx------", H.mode(dir .. "/lazy/deeper"))
  end)

  it("defaults to .lira/state.db in the working directory", function()
    local cwd = dir .. "/cwd"
    os.execute("mkdir -p " .. cwd)
    local out, ok = H.run_lua([[
      local lira = require "lira"
      lira.state("ns"):set("k", "v")
      print(require("lira.core").store_info().path)
    ]], { LIRA_STATE = "" }, cwd)
    assert.is_true(ok, out)
    assert.equals(".lira/state.db\n", out)
    assert.truthy(io.open(cwd .. "/.lira/state.db"))
  end)

  it("rejects an unknown LIRA_STATE_SYNC, and opens with full", function()
    local out, ok = H.run_lua([[ require("lira").checkpoint("c"):get() ]],
      { LIRA_STATE = dir .. "/sync.db", LIRA_STATE_SYNC = "sometimes" })
    assert.is_false(ok)
    assert.matches("LIRA_STATE_SYNC must be 'normal' or 'full' (got 'sometimes')", out, 1, true)
    out, ok = H.run_lua([[ require("lira").checkpoint("c"):set(1) print("ok") ]],
      { LIRA_STATE = dir .. "/sync.db", LIRA_STATE_SYNC = "full" })
    assert.is_true(ok, out)
  end)

  it("refuses a corrupt file, untouched, naming it and what to do", function()
    local path = dir .. "/garbage.db"
    local junk = {}
    for i = 0, 8191 do junk[#junk + 1] = string.char((i * 131 + 7) % 256) end
    H.write(path, table.concat(junk))
    local e = raised(core.store_open, path)
    assert.equals("corrupt", e.kind)
    assert.equals(path, e.path)
    assert.matches("state file " .. path .. " is corrupt", e.message, 1, true)
    assert.matches("restore a backup", e.message, 1, true)
    assert.matches("^corrupt: lira: state file ", tostring(e))
    assert.equals(table.concat(junk), H.read(path))
    assert.is_false(core.store_info().open)
    -- and through the lazy path, as the error of the first use
    local out, ok = H.run_lua([[ require("lira").checkpoint("c"):get() ]], { LIRA_STATE = path })
    assert.is_false(ok)
    assert.matches("corrupt: lira: state file " .. path .. " is corrupt", out, 1, true)
  end)

  it("refuses a file from a newer lira, untouched", function()
    local path = dir .. "/newer.db"
    core.store_open(path)
    lira.checkpoint("keep"):set("me")
    core.store_close()
    H.sqlite(path, "PRAGMA user_version = 7;")
    local before = H.read(path)
    local e = raised(core.store_open, path)
    assert.equals("newer_schema", e.kind)
    assert.matches(path, e.message, 1, true)
    assert.matches("newer lira (schema 7", e.message, 1, true)
    assert.matches("upgrade lira or point LIRA_STATE at another file", e.message, 1, true)
    assert.equals(before, H.read(path))
  end)

  it("upgrades a file of an older schema (built with the schema option)", function()
    local path = dir .. "/old.db"
    core.store_open(path, { schema = 1 })
    assert.equals(1, core.store_info().schema)
    lira.state("ns"):set("k", "from v1")
    core.store_open(path)
    assert.is_true(core.store_info().schema >= 2)
    assert.equals("from v1", lira.state("ns"):get("k"))
  end)

  it("refuses a SQLite file another program made", function()
    local path = dir .. "/theirs.db"
    H.sqlite(path, "CREATE TABLE theirs (x); INSERT INTO theirs VALUES (1);")
    local e = raised(core.store_open, path)
    assert.equals("not_lira", e.kind)
    assert.matches(path, e.message, 1, true)
    assert.equals("1\n", H.sqlite(path, "SELECT x FROM theirs;"))
  end)

  it("fails within the busy timeout on a file locked by another process", function()
    local path = dir .. "/locked.db"
    core.store_open(path)
    lira.checkpoint("c"):set(1)
    local holder = H.lock(path)                       -- sqlite3 child in BEGIN EXCLUSIVE
    local t0 = lira.now()
    local e = raised(core.store_open, path, { busy_timeout = 0.1 })
    local took = lira.now() - t0
    assert.equals("locked", e.kind)
    assert.matches("state file " .. path .. " is locked", e.message, 1, true)
    assert.matches("stop the other program using this file", e.message, 1, true)
    assert.is_true(took >= 0.09 and took < 3, took)
    holder:release()
    core.store_open(path, { busy_timeout = 0.1 })
    assert.equals(1, lira.checkpoint("c"):get())
    -- an open handle: a write while another process holds the lock
    holder = H.lock(path)
    e = raised(function() lira.checkpoint("c"):set(2) end)
    assert.equals("locked", e.kind)
    holder:release()
    lira.checkpoint("c"):set(2)
    assert.equals(2, lira.checkpoint("c"):get())
  end)

  it("refuses to write a read-only file", function()
    local path = dir .. "/ro.db"
    core.store_open(path)
    lira.checkpoint("c"):set(1)
    core.store_open(path, { readonly = true })
    assert.equals(1, lira.checkpoint("c"):get())
    local e = raised(function() lira.checkpoint("c"):set(2) end)
    assert.equals("read_only", e.kind)
    assert.matches(path, e.message, 1, true)
  end)
end)
