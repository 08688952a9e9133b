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

  -- the sandbox's log (sb:log() takes it) and its distinct connection ids
  local function log_and_connections()
    local log, seen, n = sb:log(), {}, 0
    for _, e in ipairs(log) do
      assert(e.connection, "a log entry without a connection id")
      if not seen[e.connection] then seen[e.connection] = true; n = n + 1 end
    end
    return log, n
  end

  it("connections caps the connections to the host; the rest wait their turn", function()
    local lira = require "lira"
    local c = lira.client { name = "conc-cap4", base_url = sb.url, connections = 4,
                            breaker = false, limit = false, retry = false }
    local order = {}
    lira.run(function()
      local tasks = {}
      for i = 1, 12 do
        tasks[i] = lira.spawn(function()
          assert(c:get("/delay/100"))
          order[#order + 1] = i
        end)
      end
      for i = 1, 12 do assert(tasks[i]:join()) end
    end)
    local log, nconns = log_and_connections()
    assert.equals(12, #log)
    assert.is_true(nconns >= 1 and nconns <= 4, "connections: " .. nconns)
    -- in order: the first four (sent at once) finish before any of the last four
    local pos = {}
    for k, i in ipairs(order) do pos[i] = k end
    for i = 1, 4 do assert.is_true(pos[i] <= 8, "call " .. i .. " finished " .. pos[i]) end
  end)

  it("connections above the default lets that many calls run at once", function()
    local lira = require "lira"
    local c = lira.client { name = "conc-cap24", base_url = sb.url, connections = 24,
                            breaker = false, limit = false, retry = false }
    lira.run(function()
      local tasks = {}
      for i = 1, 24 do tasks[i] = lira.spawn(function() assert(c:get("/delay/300")) end) end
      for i = 1, 24 do assert(tasks[i]:join()) end
    end)
    local log, nconns = log_and_connections()
    assert.equals(24, #log)
    assert.equals(24, nconns)   -- the default (16) would have made 8 wait
    local ok, err = pcall(lira.client, { name = "x", base_url = sb.url, connections = 0 })
    assert.is_false(ok)
    assert.matches("option connections must be an integer from 1 to 1024", err, 1, true)
  end)

  -- Between calls a keep-alive socket stays registered with the loop
  -- (engine.h, lira_engine_park). Here the server drops a connection after
  -- every other call: curl closes it (the transport takes it out of the
  -- loop first) and the next socket usually gets the same number. Every
  -- call must still end at once, with no call left waiting to its timeout.
  -- (test_engine_loop.c holds the exact hazard: a number reused for the
  -- same events.)
  it("a dropped connection's successor is watched (sockets parked between calls)", function()
    local lira = require "lira"
    local c = lira.client { name = "conc-drop", base_url = sb.url, connections = 2,
                            breaker = false, limit = false, retry = false,
                            timeout = { connect = 2, read = 2 } }
    local t0 = lira.now()
    lira.run(function()
      local tasks = {}
      for w = 1, 2 do
        tasks[w] = lira.spawn(function()
          for i = 1, 15 do
            assert(c:get("/anything/{w}/{i}", { params = { w = w, i = i } }))
            local res, err = c:get("/flaky/drop-{w}-{i}", { params = { w = w, i = i },
                                                            query = { status = "reset",
                                                                      fail = 100 } })
            assert(res == nil and err.kind ~= "timeout", err and err.kind)
          end
        end)
      end
      for w = 1, 2 do assert(tasks[w]:join()) end
    end)
    assert.is_true(lira.now() - t0 < 10, "took " .. (lira.now() - t0) .. " s")
    -- curl sends a request again, once, when the reused connection it went
    -- out on dies before answering, so a call may show twice in the log
    local log, nconns = log_and_connections()
    assert.is_true(#log >= 60 and #log <= 120, "requests: " .. #log)
    assert.is_true(nconns >= 30, "connections: " .. nconns)   -- one per drop, at least
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
