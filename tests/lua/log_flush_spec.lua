-- When the engine's call lines reach the log file (docs/observability.md,
-- "Logs"): the lines of turns in a row share one write(2), at most
-- flush_ms after the first of them; a warning, a line from Lua, a driver
-- handing control back to its host (lira.run returning, a synchronous call
-- returning) or flush_ms = 0 write them at once. Real calls to a real
-- `lira sandbox`, a real file.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

local lira = require "lira"
local sandbox = require "helpers.sandbox"

local path = os.tmpname()
local sb, client

-- The log's lines whose msg is `msg` (all lines when nil).
local function lines(msg)
  local f = io.open(path, "rb")
  if not f then return {} end
  local out = {}
  for l in f:lines() do
    if not msg or l:find('"msg":"' .. msg .. '"', 1, true) then out[#out + 1] = l end
  end
  f:close()
  return out
end

local function fresh(flush_ms)
  os.remove(path)
  assert(lira.log.configure { level = "info", file = path, flush_ms = flush_ms })
end

setup(function()
  sb = sandbox.start()
  client = lira.client { name = "flush", base_url = sb.url, retry = false, breaker = false }
end)

teardown(function()
  if sb then sb:stop() end
  os.remove(path)
  lira.log.configure { level = "warn" }
end)

describe("log lines of the loop's turns", function()
  it("wait for flush_ms and leave together when lira.run returns", function()
    fresh(10000)
    local seen
    lira.run(function()
      for i = 1, 3 do assert(client:get("/anything/" .. i)) end
      seen = #lines("call")
    end)
    assert.equal(0, seen)                 -- still waiting inside the run
    assert.equal(3, #lines("call"))       -- written before run returned
  end)

  it("are written by a timer within flush_ms while the loop idles", function()
    fresh(50)
    local before, after
    lira.run(function()
      assert(client:get("/anything/1"))
      before = #lines("call")
      local t0 = lira.now()
      while #lines("call") == 0 and lira.now() - t0 < 5 do lira.sleep(0.01) end
      after = #lines("call")
      assert.is_true(lira.now() - t0 < 2)
    end)
    assert.equal(0, before)
    assert.equal(1, after)
  end)

  it("leave at the end of every turn with flush_ms = 0", function()
    fresh(0)
    local seen
    lira.run(function()
      assert(client:get("/anything/1"))
      seen = #lines("call")
    end)
    assert.equal(1, seen)
  end)

  it("go out before a warning or a line from Lua, in order", function()
    fresh(10000)
    lira.run(function()
      assert(client:get("/anything/1"))
      lira.log.warn("after the call")
      assert(client:get("/anything/2"))
      lira.log.info("from lua")
      local all = lines()
      assert.equal(4, #all)
      assert.matches('"msg":"call"', all[1])
      assert.matches('"msg":"after the call"', all[2])
      assert.matches('"msg":"call"', all[3])
      assert.matches('"msg":"from lua"', all[4])
    end)
  end)

  it("of a synchronous call are written when the call returns", function()
    fresh(10000)
    assert(client:get("/anything/1"))
    assert.equal(1, #lines("call"))
  end)

  it("are written at exit when a task ends the process with os.exit", function()
    os.remove(path)
    local child = ([[
      local lira = require "lira"
      assert(lira.log.configure { level = "info", file = %q, flush_ms = 10000 })
      local c = lira.client { name = "exit", base_url = %q, retry = false }
      lira.run(function()
        assert(c:get("/anything/1"))
        os.exit(0)
      end)
      os.exit(3)]]):format(path, sb.url)
    -- os.exit without closing the state leaves everything allocated: under
    -- ASan (the sanitizer build runs the specs with it) that is no leak.
    local ok, how, code = os.execute("ASAN_OPTIONS=detect_leaks=0 lua5.4 -e '"
                                     .. child:gsub("'", "'\\''") .. "'")
    assert.is_true(ok, how .. " " .. tostring(code))
    assert.equal(1, #lines("call"))
  end)

  it("LIRA_LOG_FLUSH_MS that is not 0..10000 keeps the default and says so", function()
    local p = assert(io.popen("LIRA_LOG_FLUSH_MS=5ms LIRA_LOG_LEVEL=warn "
                              .. "lua5.4 -e 'require(\"lira\").log.warn(\"hello\")' 2>&1"))
    local out = p:read("a")
    p:close()
    assert.matches("ignoring an unrecognised LIRA_LOG_%* value", out)
    assert.matches("LIRA_LOG_FLUSH_MS: 0..10000", out, 1, true)
    assert.matches('"msg":"hello"', out, 1, true)
  end)

  it("flush_ms is checked", function()
    for _, bad in ipairs { -1, 10001, "5", 0 / 0 } do
      local ok, err = pcall(lira.log.configure, { file = path, flush_ms = bad })
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'configure' %(flush_ms must be a number of " ..
                     "milliseconds from 0 to 10000%)", tostring(err))
    end
  end)
end)
