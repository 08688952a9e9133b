-- Many calls in flight at once from lira tasks: they yield, share pooled
-- keep-alive connections (the sandbox's log shows far fewer connection ids
-- than requests), and every one gets its own response.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

local core = require "lira.core"
local sandbox = require "helpers.sandbox"

local sb

setup(function() sb = sandbox.start() end)
teardown(function() if sb then sb:stop() end end)
before_each(function() sb:reset() end)

describe("concurrent calls", function()
  it("1000 tasks over pooled connections", function()
    local c = core.client_new { name = "conc", base_url = sb.url, breaker = false, limit = false,
                                retry = { attempts = 3, base = 0.01, cap = 0.05 } }
    local n = 1000
    local ok = 0
    local ids = {}
    core.run(function()
      local tasks = {}
      for i = 1, n do
        tasks[i] = core.spawn(function()
          local res, err = c:request("GET", "/anything/{i}", { params = { i = i } })
          assert(res, err and tostring(err))
          assert(res:json().path == "/anything/" .. i)
          ids[res.request_id] = true
          ok = ok + 1
        end)
      end
    end)
    assert.equals(n, ok)
    local distinct = 0
    for _ in pairs(ids) do distinct = distinct + 1 end
    assert.equals(n, distinct)
    local log = sb:log()
    assert.equals(n, #log)
    local conns = {}
    local nconns = 0
    for _, e in ipairs(log) do
      if not conns[e.connection] then conns[e.connection] = true; nconns = nconns + 1 end
    end
    assert.is_true(nconns <= 64, "connections: " .. nconns)
    assert.is_true(nconns < n / 10, "connections: " .. nconns)
  end)

  it("a cancelled task's call ends with kind cancelled and frees its record", function()
    local c = core.client_new { name = "conc-cancel", base_url = sb.url, breaker = false,
                                limit = false, retry = false }
    local got
    core.run(function()
      local t = core.spawn(function()
        local res, err = c:request("GET", "/delay/2000")
        got = { res = res, err = err }
      end)
      core.sleep(0.05)
      t:cancel()
    end)
    assert.is_nil(got.res)
    assert.equals("cancelled", got.err.kind)
  end)

  it("hooks run off the waiting coroutine while tasks wait", function()
    local seen = 0
    local c = core.client_new { name = "conc-hook", base_url = sb.url, breaker = false,
      limit = false, budget = false, retry = { attempts = 2, base = 0.01, cap = 0.02,
        on = function(res) seen = seen + 1; return nil end } }
    core.run(function()
      for i = 1, 20 do
        core.spawn(function()
          assert(c:request("GET", "/flaky/h" .. i, { query = { fail = 1 } }))
        end)
      end
    end)
    assert.is_true(seen >= 20, "hook ran " .. seen .. " times")   -- once per failed attempt at least
    assert.equals(40, #sb:log())
  end)
end)
