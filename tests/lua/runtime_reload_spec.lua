-- Hot reload under `lira run` (docs/runtime.md "Reload"): real files changed
-- under a running process, a real sandbox for calls in flight.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path
local runtime = require "helpers.runtime"
local sandbox = require "helpers.sandbox"

local function version(tag, extra)
  return ([[
local lira = require "lira"
return lira.integration { name = "app", every = 0.1,
  sync = function(ctx) ctx.state:set("version", %q) end %s }]]):format(tag, extra or "")
end

describe("lira run reload", function()
  it("reloads an atomic save into a new generation; later runs use the new code", function()
    local d = runtime.dir { ["app.lua"] = version("v1") }
    local p = runtime.start { d.path }
    finally(function() p:stop() d:rm() end)
    local a = p:wait(function() local a = p:integ("app") return a and a.runs > 0 and a end)
    local t0 = require("lira").now()
    d:save("app.lua", version("v2"))
    local b = p:wait(function() local b = p:integ("app") return b.generation == 2 and b end,
                     10, "generation 2")
    local latency = require("lira").now() - t0
    assert.are_not.equal(a.version, b.version)
    assert.equals("ok", b.last_reload.result)
    assert.is_true(latency < 2, "reload took " .. latency)
    -- A sync of the new version ran: its runs counter moved after the reload.
    local runs = b.runs
    p:wait(function() return p:integ("app").runs > runs + 1 end, 10, "new runs")
    assert.matches('"integration: reloaded"', p:logs(), 1, true)
  end)

  it("keeps the old version serving when the new one has a syntax error", function()
    local d = runtime.dir { ["app.lua"] = version("v1") }
    local p = runtime.start { d.path }
    finally(function() p:stop() d:rm() end)
    local a = p:wait(function() local a = p:integ("app") return a and a.runs > 0 and a end)
    d:save("app.lua", "local lira = require 'lira'\nreturn lira.integration {\n  name = ")
    local b = p:wait(function()
      local b = p:integ("app") return b.last_reload.result == "error" and b
    end, 10, "the failed reload")
    assert.matches(d:file("app.lua") .. ":3:", b.last_reload.error, 1, true)
    assert.equals(1, b.generation)
    assert.equals(a.version, b.version)
    assert.equals("running", b.status)
    p:wait(function() return p:integ("app").runs > b.runs + 2 end, 10, "runs go on")
    assert.matches("the previous one keeps running", p:logs(), 1, true)
    -- Fixing the file reloads it.
    d:save("app.lua", version("v3"))
    p:wait(function()
      local c = p:integ("app") return c.generation == 2 and c.last_reload.result == "ok"
    end, 10, "the fixed version")
  end)

  it("starts an integration for a new file and stops one whose file is removed", function()
    local d = runtime.dir { ["app.lua"] = version("v1") }
    local p = runtime.start { d.path }
    finally(function() p:stop() d:rm() end)
    p:wait(function() return p:integ("app") end)
    d:save("other.lua", [[
local lira = require "lira"
return lira.integration { name = "other", every = 0.1, sync = function() end }]])
    p:wait(function() local o = p:integ("other") return o and o.runs > 0 end, 10, "other")
    d:remove("app.lua")
    -- A removed integration stays listed as stopped (with the time) ...
    local gone = p:wait(function()
      local a = p:integ("app") return a and a.status == "stopped" and a
    end, 10, "app stopped")
    assert.is_truthy(p:integ("other"))
    assert.matches("file removed, stopping it", p:logs(), 1, true)
    assert.is_number(gone.last_reload.at)
    assert.equals(1, gone.generation)
    assert.is_true(gone.next_run == nil or gone.next_run == require("lira").null)
    local runs = gone.runs
    runtime.sleep(0.3)
    assert.equals(runs, p:integ("app").runs)
    -- ... until its file comes back: then it runs again, as its next generation.
    d:save("app.lua", version("v2"))
    p:wait(function()
      local a = p:integ("app")
      return a.status == "running" and a.generation == 2 and a.runs > runs
    end, 10, "app back")
  end)

  it("reloads exactly the integrations that use a changed local module", function()
    local function user(name)
      return ([[
local lira = require "lira"
local util = require "lib.util"
return lira.integration { name = %q, every = 0.1, sync = function() return util.tag end }]]
      ):format(name)
    end
    local d = runtime.dir {
      ["lib/util.lua"] = "return { tag = 'v1' }",
      ["lib/other.lua"] = "return { tag = 'x' }",
      ["a.lua"] = user("a"), ["b.lua"] = user("b"),
      ["c.lua"] = [[
local lira = require "lira"
return lira.integration { name = "c", every = 0.1, sync = function() end }]],
    }
    local p = runtime.start { d.path }
    finally(function() p:stop() d:rm() end)
    p:wait(function()
      return p:integ("a") and p:integ("b") and p:integ("c")
    end, 10, "three integrations")
    -- A module nobody requires changes: nothing reloads.
    d:save("lib/other.lua", "return { tag = 'y' }")
    d:save("lib/util.lua", "return { tag = 'v2' }")
    p:wait(function()
      return p:integ("a").generation == 2 and p:integ("b").generation == 2
    end, 10, "a and b reloaded")
    runtime.sleep(0.2)
    assert.equals(2, p:integ("a").generation)
    assert.equals(2, p:integ("b").generation)
    assert.equals(1, p:integ("c").generation)
    -- A module that breaks fails its users' reloads; the old versions go on.
    d:save("lib/util.lua", "return {")
    p:wait(function()
      return p:integ("a").last_reload.result == "error" and
             p:integ("b").last_reload.result == "error"
    end, 10, "failed reloads")
    assert.equals(2, p:integ("a").generation)
    assert.equals("ok", p:integ("c").last_reload.result)
    d:save("lib/util.lua", "return { tag = 'v3' }")
    p:wait(function()
      return p:integ("a").generation == 3 and p:integ("b").generation == 3
    end, 10, "a and b fixed")
    assert.equals(1, p:integ("c").generation)
  end)

  it("SIGHUP reloads every integration", function()
    local d = runtime.dir { ["app.lua"] = version("v1") }
    local p = runtime.start { d.path, args = { "--no-reload" } }
    finally(function() p:stop() d:rm() end)
    p:wait(function() return p:integ("app") end)
    p:signal("HUP")
    p:wait(function() return p:integ("app").generation == 2 end, 10, "generation 2")
  end)

  describe("with a sandbox", function()
    local sb
    setup(function() sb = sandbox.start() end)
    teardown(function() if sb then sb:stop() end end)

    it("lets 100 calls in flight finish on the old version while the new one serves", function()
      local d = runtime.dir {}
      local results = d.path .. "/results"
      local function app(tag)
        return ([[
local lira = require "lira"
local shop = lira.client { name = "shop", base_url = lira.config("SHOP_URL"),
                           limit = false, timeout = { read = 10, deadline = 20 } }
local function mark(s) local f = io.open(%q, "a") f:write(s, "\n") f:close() end
return lira.integration { name = "app", start = function(ctx)
  if %q == "v1" then
    local tasks = {}
    for i = 1, 100 do
      tasks[i] = lira.spawn(function()
        local res, err = shop:get("/delay/{ms}", { params = { ms = 1500 } })
        mark(res and res.status == 200 and "ok" or ("fail " .. tostring(err)))
      end)
    end
    mark("spawned")
    for _, t in ipairs(tasks) do t:join() end
  else
    mark("v2 started")
  end
end }]]):format(results, tag)
      end
      d:write("app.lua", app("v1"))
      local p = runtime.start { d.path, args = { "--drain", "20" }, env = { SHOP_URL = sb.url } }
      finally(function() p:stop() d:rm() end)
      p:wait(function() return (runtime.read(results) or ""):find("spawned") end, 10, "spawn")
      d:save("app.lua", app("v2"))
      p:wait(function() return (runtime.read(results) or ""):find("v2 started") end, 10, "v2")
      local text = p:wait(function()
        local s = runtime.read(results) or ""
        local _, n = s:gsub("\nok", "")
        local _, f = s:gsub("fail", "")
        return n + f >= 100 and s
      end, 40, "100 results")
      local _, ok = text:gsub("\nok", "")
      assert.equals(100, ok, text)
      assert.equals(2, p:integ("app").generation)
    end)

    it("keeps a breaker opened before a reload open after it", function()
      local d = runtime.dir {}
      local function app(tag)
        return ([[
local lira = require "lira"
local shop = lira.client { name = "shop-breaker", base_url = lira.config("SHOP_URL"),
  retry = false, breaker = { min_calls = 5, failure_rate = 0.5, cooldown = 600 } }
return lira.integration { name = "app", start = function(ctx)
  if %q == "v1" then
    for _ = 1, 10 do shop:get("/status/500") end
  end
  while not ctx.stopping() do lira.sleep(0.05) end
end }]]):format(tag)
      end
      d:write("app.lua", app("v1"))
      local p = runtime.start { d.path, env = { SHOP_URL = sb.url } }
      finally(function() p:stop() d:rm() end)
      p:wait(function()
        local a = p:integ("app")
        return a and a.clients[1] and a.clients[1].breaker == "open"
      end, 10, "the breaker to open")
      d:save("app.lua", app("v2"))
      local a = p:wait(function()
        local a = p:integ("app") return a.generation == 2 and a
      end, 10, "generation 2")
      assert.equals("shop-breaker", a.clients[1].name)
      assert.equals("open", a.clients[1].breaker)
    end)
  end)
end)
