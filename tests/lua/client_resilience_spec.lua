-- Breakers and limiters (LUA-API.md §3.3), per client and standalone,
-- against a real `lira sandbox`: the server's /_log shows that an open
-- breaker sends nothing and that a limiter spaces requests out.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

local core = require "lira.core"
local sandbox = require "helpers.sandbox"

local sb
local seq = 0

local function client(over)
  seq = seq + 1
  local cfg = { name = "res-" .. seq, base_url = sb.url, retry = false, breaker = false,
                limit = false }
  for k, v in pairs(over or {}) do cfg[k] = v end
  return core.client_new(cfg)
end

setup(function() sb = sandbox.start() end)
teardown(function() if sb then sb:stop() end end)
before_each(function() sb:reset() end)

describe("the client breaker", function()
  it("opens after min_calls failures, fails fast with no traffic, recovers half-open", function()
    local c = client { breaker = { window = 10, failure_rate = 0.5, min_calls = 3, cooldown = 0.3,
                                   half_open = 1 } }
    local b = c:breaker()
    assert.equals("closed", b:state())
    for _ = 1, 3 do
      local res = assert(c:request("GET", "/status/500"))
      assert.equals(500, res.status)
    end
    assert.equals("open", b:state())
    local res, err = c:request("GET", "/status/200")
    assert.is_nil(res)
    assert.equals("breaker_open", err.kind)
    assert.equals(0, err.attempts)
    assert.is_true(err.retry_after > 0 and err.retry_after <= 0.3)
    assert.equals(3, #sb:log())               -- nothing was sent
    core.sleep(0.35)
    assert.equals("half_open", b:state())
    res = assert(c:request("GET", "/status/200"))
    assert.equals(200, res.status)
    assert.equals("closed", b:state())
    assert.equals(1, #sb:log())
    local st = b:stats()
    assert.equals("closed", st.state)
    assert.equals(1, st.trips)
    assert.is_number(st.cooldown)
  end)

  it("counts 4xx as successes unless breaker.failure says otherwise", function()
    local c = client { breaker = { window = 10, failure_rate = 0.5, min_calls = 2, cooldown = 5,
                                   half_open = 1,
                                   failure = function(res) return res and res.status == 404 end } }
    assert(c:request("GET", "/status/400"))
    assert(c:request("GET", "/status/400"))
    assert.equals("closed", c:breaker():state())
    assert(c:request("GET", "/status/404"))
    assert(c:request("GET", "/status/404"))
    assert.equals("open", c:breaker():state())
  end)

  it("force_open / reset / disable, shared by name", function()
    local c = client { breaker = { window = 10, failure_rate = 0.5, min_calls = 2, cooldown = 5,
                                   half_open = 1 } }
    local b = c:breaker()
    b:force_open()
    assert.equals("forced_open", b:state())
    local _, err = c:request("GET", "/anything")
    assert.equals("breaker_open", err.kind)
    -- a second client with the same name sees the same breaker
    local twin = core.client_new { name = "res-" .. seq, base_url = sb.url, retry = false,
      breaker = { window = 10, failure_rate = 0.5, min_calls = 2, cooldown = 5, half_open = 1 },
      limit = false }
    assert.equals("forced_open", twin:breaker():state())
    b:reset()
    assert.equals("closed", twin:breaker():state())
    b:disable()
    assert.equals("disabled", b:state())
    assert.equals(0, #sb:log())
  end)

  it("is absent with breaker = false", function()
    assert.is_nil(client():breaker())
  end)
end)

describe("the client limiter", function()
  it("paces requests to target x rate", function()
    -- 10/s at target 0.8 = one every 0.125 s, burst 1
    local c = client { limit = { rate = 10, per = 1, burst = 1, target = 0.8, headers = true } }
    for _ = 1, 5 do assert(c:request("GET", "/anything")) end
    local log = sb:log()
    assert.equals(5, #log)
    for i = 2, 5 do
      local gap = (log[i].mono_ns - log[i - 1].mono_ns) / 1e9
      assert.is_true(gap >= 0.11, "gap " .. gap)
    end
    assert.is_number(c:limiter():available())
  end)

  it("adapts to rate-limit headers: waits for the reset instead of hitting 429", function()
    local c = client { limit = { rate = false, per = 1, burst = 1, target = 1, headers = true } }
    local statuses = {}
    for _ = 1, 4 do
      local res = assert(c:request("GET", "/ratelimit/k1", { query = { limit = 3, window = 1 } }))
      statuses[#statuses + 1] = res.status
    end
    assert.same({ 200, 200, 200, 200 }, statuses)
    local log = sb:log()
    assert.equals(4, #log)
    -- the 4th went out only after the window of the first three ended
    local gap = (log[4].mono_ns - log[1].mono_ns) / 1e9
    assert.is_true(gap >= 0.5, "gap " .. gap)
  end)

  it("limiter:acquire waits on the loop; a deadline that would pass returns rate_limited", function()
    local c = client { limit = { rate = 5, per = 1, burst = 1, target = 1, headers = false } }
    local l = c:limiter()
    assert.is_true(l:acquire(1))
    local t0 = core.now()
    assert.is_true(l:acquire(1))
    local took = core.now() - t0
    assert.is_true(took >= 0.15 and took < 0.8, "took " .. took)
    local ok, err = l:acquire(1, core.now() + 0.01)
    assert.is_nil(ok)
    assert.equals("rate_limited", err.kind)
    assert.is_true(err.retry_after > 0)
  end)

  it("is absent with limit = false", function()
    assert.is_nil(client():limiter())
  end)
end)

describe("standalone objects", function()
  it("breaker:call counts raises and nil, err as failures", function()
    local b = core.breaker_new { window = 10, failure_rate = 0.6, min_calls = 2, cooldown = 0.2,
                                 half_open = 1 }
    assert.same({ 1, 2 }, { b:call(function(x, y) return x, y end, 1, 2) })
    assert.has_error(function() b:call(function() error("down") end) end, nil)
    local r1, r2 = b:call(function() return nil, "bad" end)
    assert.is_nil(r1)
    assert.equals("bad", r2)
    assert.equals("open", b:state())
    local res, err = b:call(function() return "never" end)
    assert.is_nil(res)
    assert.equals("breaker_open", err.kind)
    assert.is_number(err.retry_after)
    core.sleep(0.25)
    assert.equals("ok", b:call(function() return "ok" end))
    assert.equals("closed", b:state())
  end)

  it("breaker:call lets fn wait inside a task", function()
    local b = core.breaker_new {}
    local out = core.run(function()
      return b:call(function() core.sleep(0.01) return "slept" end)
    end)
    assert.equals("slept", out)
    assert.equals(1, b:stats().calls)
  end)

  it("limiter_new paces acquire", function()
    local l = core.limiter_new { rate = 20, per = 1, burst = 2, target = 1 }
    local t0 = core.now()
    for _ = 1, 4 do assert.is_true(l:acquire()) end
    local took = core.now() - t0
    assert.is_true(took >= 0.09 and took < 0.8, "took " .. took)
    assert.has_error(function() l:acquire(3) end)
    assert.has_error(function() l:acquire(0) end)
  end)
end)
