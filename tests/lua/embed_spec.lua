-- Embedding: lira in a plain `lua5.4` interpreter (LUA-API.md §2). Each case
-- runs a script from tests/lua/fixtures in its own process, with LUA_PATH,
-- LUA_CPATH (and, under ASan, LD_PRELOAD) inherited from this one.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local LUA = os.getenv("LUA") or "lua5.4"

local function run(name)
  local errfile = os.tmpname()
  local p = assert(io.popen(("%s %q 2>%q"):format(LUA, here .. "/fixtures/" .. name, errfile)))
  local out = p:read("a")
  local ok, how, code = p:close()
  local f = assert(io.open(errfile))
  local err = f:read("a")
  f:close()
  os.remove(errfile)
  return out, err, ok, how, code
end

local function lines(s)
  local t = {}
  for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

describe("lira in a plain lua5.4 host", function()
  it("a five-line script sleeps and prints from the main thread", function()
    local out, err, ok = run("five_lines.lua")
    assert.equals("", err)
    assert.is_true(ok)
    local l = lines(out)
    assert.equals("task done", l[1])
    local slept = tonumber(l[2]:match("^main slept (%d+%.%d+) s$"))
    assert.is_true(slept >= 0.03 and slept < 1, out)
  end)

  it("lira.run runs fn with spawned tasks and returns its results", function()
    local out, err, ok = run("run_tasks.lua")
    assert.equals("", err)
    assert.is_true(ok)
    assert.same({
      "task 4", "task 3", "task 2", "task 1",
      "joined error: false kept for join (with traceback)",
      "late task",
      "run returned 2: 100 end",
      "run raised: false fn failed (with traceback)",
    }, lines(out))
  end)

  it("a host's own poll loop drives lira through pollfd/timeout/step(0)", function()
    local out, err, ok = run("poll_loop.lua")
    assert.equals("", err)
    assert.is_true(ok, out)
    local l = lines(out)
    assert.equals("order 4 2 3 1 5", l[1])
    local elapsed = tonumber(l[2]:match("elapsed (%S+)"))
    assert.is_true(elapsed >= 0.04 and elapsed < 2, out)
    -- step(0) only runs what is due: it never waits for the timers itself
    local longest = tonumber(l[3]:match("longest step%(0%) (%S+)"))
    assert.is_true(longest < 0.01, out)
    -- and the host waited in its poll, instead of spinning on step(0)
    local steps = tonumber(l[4]:match("steps (%d+)"))
    assert.is_true(steps < 200, out)
  end)

  it("a failed task nobody joined is reported on stderr once", function()
    local out, err, ok = run("unjoined.lua")
    assert.is_true(ok, err)
    assert.equals("collected\n", out)
    local _, reports = err:gsub("failed and was never joined", "")
    assert.equals(2, reports, err)
    assert.matches("nobody joins me\nstack traceback:", err)
    assert.matches("held but never joined\nstack traceback:", err)
    assert.is_nil(err:find("this one is joined", 1, true))
  end)

  it("a script that ends with tasks still waiting exits cleanly", function()
    local out, err, ok = run("pending_at_exit.lua")
    assert.equals("", err)
    assert.is_true(ok)
    assert.equals("waiting\twaiting\tready\n", out)
  end)
end)
