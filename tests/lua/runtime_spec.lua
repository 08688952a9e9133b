-- `lira run` and `lira check` as real processes (docs/runtime.md): loading a
-- folder, scheduling, supervision, the watchdog, the memory limit, SIGTERM
-- and the admin endpoints. Every wait polls /admin with a deadline.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path
local runtime = require "helpers.runtime"

local function integ(body) return 'local lira = require "lira"\n' .. body end

describe("lira run", function()
  it("loads a folder: *.lua and */init.lua, not other modules", function()
    local d = runtime.dir {
      ["alpha.lua"] = integ [[
        local util = require "lib.util"
        return lira.integration { name = "alpha", every = 0.2,
          sync = function(ctx) ctx.state:set("n", util.double(2)) end }]],
      ["beta/init.lua"] = integ [[
        return lira.integration { name = "beta",
          start = function(ctx) while not ctx.stopping() do lira.sleep(0.05) end end }]],
      ["lib/util.lua"] = "return { double = function(x) return 2 * x end }",
    }
    local p = runtime.start { d.path }
    finally(function() p:stop() d:rm() end)
    p:wait(function()
      local a, b = p:integ("alpha"), p:integ("beta")
      return a and b and a.runs >= 2 and b.start_running
    end, 10, "both integrations running")
    local doc = p:admin()
    assert.equals(2, #doc.integrations)
    local a = p:integ("alpha")
    assert.equals("running", a.status)
    assert.equals(d:file("alpha.lua"), a.file)
    assert.matches("^%x+$", a.version)
    assert.equals(1, a.generation)
    assert.equals("ok", a.last_run.result)
    assert.is_number(a.next_run)
    assert.equals(200, (p:get("/readyz")))
    assert.equals(200, (p:get("/healthz")))
    local _, metrics = p:get("/metrics")
    assert.matches('lira_integration_runs_total{integration="alpha",result="ok"}', metrics, 1,
                   true)
    assert.equals(0, p:stop())
  end)

  it("never overlaps runs: a run still going when the next is due is skipped", function()
    local d = runtime.dir {
      ["slow.lua"] = integ [[
        local active = false
        return lira.integration { name = "slow", every = 0.1,
          sync = function(ctx)
            if active then error("overlap") end
            active = true
            lira.sleep(0.35)
            active = false
          end }]],
    }
    local p = runtime.start { d.path }
    finally(function() p:stop() d:rm() end)
    local i = p:wait(function()
      local i = p:integ("slow")
      return i and i.runs >= 3 and i.skipped >= 3 and i
    end, 15, "skipped runs")
    assert.equals(0, i.run_errors)
  end)

  it("restarts a crashing start with backoff 1 s, 2 s, ... and others keep running", function()
    local d = runtime.dir {
      ["crash.lua"] = integ [[
        return lira.integration { name = "crash", start = function() error("kaboom") end }]],
      ["steady.lua"] = integ [[
        return lira.integration { name = "steady", every = 0.1, sync = function() end }]],
    }
    local p = runtime.start { d.path }
    finally(function() p:stop() d:rm() end)
    local times, seen = {}, 0
    local steady0
    p:wait(function()
      local c = p:integ("crash")
      if c and c.crashes > seen then
        seen = c.crashes
        times[#times + 1] = c.last_error.at
        assert.matches("crash.lua:2: kaboom", c.last_error.message, 1, true)
        assert.matches("stack traceback", c.last_error.traceback, 1, true)
        assert.equals("backing-off", c.status)
        assert.is_number(c.restart_at)
        steady0 = steady0 or p:integ("steady").runs
      end
      return #times >= 3
    end, 15, "three crashes")
    local d1, d2 = times[2] - times[1], times[3] - times[2]
    assert.is_true(d1 >= 0.9 and d1 < 1.8, "first restart after " .. d1)
    assert.is_true(d2 >= 1.9 and d2 < 2.8, "second restart after " .. d2)
    local c = p:integ("crash")
    assert.is_true(c.restarts >= 2)
    assert.is_true(p:integ("steady").runs > steady0 + 5)
    assert.equals(0, p:integ("steady").run_errors)
  end)

  it("stops a task that runs too long without yielding (watchdog)", function()
    local d = runtime.dir {
      ["spin.lua"] = integ [[
        return lira.integration { name = "spin", every = 0.2,
          sync = function() while true do end end }]],
      ["steady.lua"] = integ [[
        return lira.integration { name = "steady", every = 0.1, sync = function() end }]],
    }
    local p = runtime.start { d.path, args = { "--cpu-budget", "0.3" } }
    finally(function() p:stop() d:rm() end)
    local s = p:wait(function()
      local s = p:integ("spin")
      return s and s.run_errors >= 2 and s
    end, 15, "the watchdog")
    assert.matches("watchdog", s.last_error.message, 1, true)
    assert.matches("without yielding", s.last_error.message, 1, true)
    assert.equals(200, (p:get("/healthz")))
    assert.is_true(p:integ("steady").runs >= 3)
    assert.equals(0, p:integ("steady").run_errors)
  end)

  it("fails a task that passes the memory limit, not the process", function()
    local d = runtime.dir {
      ["hog.lua"] = integ [[
        return lira.integration { name = "hog", every = 0.2,
          sync = function()
            local t = {}
            for i = 1, 1e8 do t[i] = ("x"):rep(100) .. i end
          end }]],
      ["steady.lua"] = integ [[
        return lira.integration { name = "steady", every = 0.1, sync = function() end }]],
    }
    local p = runtime.start { d.path, args = { "--memory-limit", "16" } }
    finally(function() p:stop() d:rm() end)
    local h = p:wait(function()
      local h = p:integ("hog")
      return h and h.run_errors >= 2 and h
    end, 20, "memory errors")
    assert.matches("memory limit exceeded", h.last_error.message, 1, true)
    assert.is_true(h.memory_bytes < 16 * 1024 * 1024)
    assert.is_true(p:integ("steady").runs >= 3)
    assert.is_nil(p:exited())
  end)

  it("SIGTERM: stop(ctx) runs, in-flight runs finish, exit 0", function()
    local d = runtime.dir {}
    local marks = d.path .. "/marks"
    d:write("work.lua", integ(([[
      local function mark(s) local f = io.open(%q, "a") f:write(s, "\n") f:close() end
      return lira.integration { name = "work", every = 60,
        sync = function(ctx) mark("begin") lira.sleep(0.5) mark("end") end,
        stop = function(ctx) mark("stop " .. tostring(ctx.stopping())) end }]]):format(marks)))
    local p = runtime.start { d.path, args = { "--drain", "5" } }
    finally(function() p:stop() d:rm() end)
    p:wait(function() return (runtime.read(marks) or ""):find("begin") end, 10, "the run")
    p:signal("TERM")
    assert.equals(0, p:wait_exit(10))
    assert.equals("begin\nstop true\nend\n", runtime.read(marks))
    assert.matches("lira run: stopped", p:logs(), 1, true)
  end)

  it("SIGTERM: work past --drain is cancelled and the exit is still 0", function()
    local d = runtime.dir {
      ["stuck.lua"] = integ [[
        return lira.integration { name = "stuck", start = function() lira.sleep(3600) end }]],
    }
    local p = runtime.start { d.path, args = { "--drain", "0.3" } }
    finally(function() p:stop() d:rm() end)
    p:wait(function() local s = p:integ("stuck") return s and s.start_running end, 10, "start")
    local t0 = require("lira").now()
    p:signal("TERM")
    assert.equals(0, p:wait_exit(10))
    assert.is_true(require("lira").now() - t0 < 5)
  end)

  it("rejects unknown flags with exit 2 and answers --help", function()
    local code, out = runtime.exec { "run", "--bogus", "x" }
    assert.equals(2, code)
    assert.matches("unknown flag '--bogus'", out, 1, true)
    code, out = runtime.exec { "run", "--help" }
    assert.equals(0, code)
    assert.matches("--no-reload", out, 1, true)
    code = runtime.exec { "run", "--drain", "soon", "x" }
    assert.equals(2, code)
    code = runtime.exec { "check", "--help" }
    assert.equals(0, code)
  end)

  it("refuses a second integration with the same name", function()
    local d = runtime.dir {
      ["a.lua"] = integ [[return lira.integration { name = "same", start = function() end }]],
      ["b.lua"] = integ [[return lira.integration { name = "same", start = function() end }]],
    }
    local p = runtime.start { d.path }
    finally(function() p:stop() d:rm() end)
    local doc = p:admin()
    assert.equals(1, #doc.integrations)
    assert.equals(1, #doc.errors)
    assert.matches("b.lua:1: integration name 'same' is already used by", doc.errors[1].error)
    assert.equals(503, (p:get("/readyz")))
  end)
end)

describe("lira run without --listen", function()
  it("still checks webhook routes, and warns that none is served", function()
    local hook = "handle = function() end"
    local d = runtime.dir {
      ["ok.lua"] = integ("return lira.integration { name = 'ok', webhooks = {\n" ..
        "  ['/w'] = { verify = false, id = 'json:id', " .. hook .. " } } }"),
      ["bad.lua"] = integ("return lira.integration { name = 'bad', webhooks = {\n" ..
        "  ['/s'] = { verify = { scheme = 'standard', secret = 'not-whsec' }, " .. hook .. " } } }"),
    }
    local p = runtime.start { d.path, listen = false }
    finally(function() p:stop() d:rm() end)
    p:wait(function() return p:logs():find("lira run: started", 1, true) end, 10, "the start")
    local logs = p:logs()
    assert.matches('"level":"warn","msg":"integration: webhook routes need --listen; none is ' ..
                   'served","integration":"ok","routes":"1"', logs, 1, true)
    assert.matches('bad.lua:1: webhooks[\\"/s\\"]: verify: secret 1 of 1: not whsec_', logs, 1,
                   true)
    assert.not_matches('"integration: loaded","integration":"bad"', logs, 1, true)
  end)
end)

describe("lira check", function()
  it("reports load errors as file:line: message and exits 1", function()
    local d = runtime.dir {
      ["syntax.lua"] = "local x = \nreturn (",
      ["typo.lua"] = integ "\nreturn lira.integration { name = 'x', evrey = 5 }",
      ["none.lua"] = "return 42",
    }
    finally(function() d:rm() end)
    local code, out = runtime.exec { "check", d.path }
    assert.equals(1, code)
    assert.matches(d:file("syntax.lua") .. ":2:", out, 1, true)
    assert.matches(d:file("typo.lua") .. ":3: lira.integration: unknown field 'evrey'", out, 1,
                   true)
    assert.matches("none.lua: the file must return lira.integration{...}", out, 1, true)
  end)

  it("warns about the seed guide's mistakes; --strict makes them errors", function()
    local d = runtime.dir {
      ["bad.lua"] = integ [[
local shop = lira.client { name = "shop", base_url = "http://example.com",
                           timeout = { read = 40, deadline = 30 } }
return lira.integration { name = "bad", every = 60, sync = function()
  shop:post("/orders", { json = {} })
end }]],
      ["good.lua"] = integ [[
local shop = lira.client { name = "shop2", base_url = lira.config("SHOP_URL"),
                           version = { header = "V", value = "1" }, fallback = false }
return lira.integration { name = "good", every = 60, sync = function()
  shop:post("/orders", { json = {}, idempotency_key = true })
end }]],
    }
    finally(function() d:rm() end)
    local code, out = runtime.exec { "check", d.path }
    assert.equals(0, code, out)
    local bad = d:file("bad.lua")
    assert.matches(bad .. ":2: warning: client 'shop': base_url is a string literal", out, 1,
                   true)
    assert.matches(bad .. ":2: warning: client 'shop': no pinned API version", out, 1, true)
    assert.matches(bad .. ":2: warning: client 'shop': no fallback decided", out, 1, true)
    assert.matches(bad .. ":2: warning: client 'shop': timeout.read (40 s) is longer", out, 1,
                   true)
    assert.matches(bad .. ":5: warning: :post(...) is retried on failure but has no " ..
                   "idempotency_key", out, 1, true)
    assert.not_matches("good.lua", out, 1, true)
    code = runtime.exec { "check", "--strict", d.path }
    assert.equals(1, code)
    code = runtime.exec { "check", "--strict", d:file("good.lua") }
    assert.equals(0, code)
  end)

  it("reads webhook routes as lira run does: verify configs, shared and reserved paths",
     function()
    local hook = "handle = function() end"
    local d = runtime.dir {
      ["std.lua"] = integ("\nreturn lira.integration { name = 'std', webhooks = {\n" ..
        "  ['/s'] = { verify = { scheme = 'standard', secret = 'not-whsec' }, " .. hook ..
        " } } }"),
      ["one.lua"] = integ("\nreturn lira.integration { name = 'one', webhooks = {\n" ..
        "  ['/same'] = { verify = false, id = 'json:id', " .. hook .. " } } }"),
      ["two.lua"] = integ("\nreturn lira.integration { name = 'two', webhooks = {\n" ..
        "  ['/same'] = { verify = false, id = 'json:id', " .. hook .. " } } }"),
      ["adm.lua"] = integ("\nreturn lira.integration { name = 'adm', webhooks = {\n" ..
        "  ['/metrics'] = { verify = false, id = 'json:id', " .. hook .. " } } }"),
    }
    finally(function() d:rm() end)
    local code, out = runtime.exec { "check", d.path }
    assert.equals(1, code)
    assert.matches(d:file("std.lua") .. ':1: webhooks["/s"]: verify: secret 1 of 1: not ' ..
                   "whsec_<base64>", out, 1, true)
    local later = d:file("one.lua") < d:file("two.lua") and "two.lua" or "one.lua"
    assert.matches(d:file(later) .. ':1: error: webhooks["/same"]: the route is already ' ..
                   "declared by ", out, 1, true)
    assert.matches(d:file("adm.lua") .. ':3: lira.integration: webhooks: route "/metrics" is ' ..
                   "the runtime's own", out, 1, true)
    assert.matches("4 file(s), 3 error(s)", out, 1, true)
  end)
end)
