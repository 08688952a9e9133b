-- lira.trace.flush (docs/observability.md, "Flushing"): OpenTelemetry's
-- ForceFlush. A child lua5.4 (fixtures/trace_flush_child.lua) exports to the
-- stand-in collector with a batch delay of ten minutes, so every span the
-- collector holds before the child exits is one that flush sent.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

local lira = require "lira"
local sandbox = require "helpers.sandbox"
local otlp = require "helpers.otlp"

local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local sb, rx
local exports = os.tmpname()

local function child(mode, endpoint)
  local env = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=%s OTEL_BSP_SCHEDULE_DELAY=600000 " ..
               "OTEL_TRACES_SAMPLER=always_on LIRA_LOG_LEVEL=off"):format(sh(endpoint))
  if not endpoint then env = "LIRA_LOG_LEVEL=off" end
  local p = assert(io.popen(("env -u OTEL_EXPORTER_OTLP_ENDPOINT -u OTEL_EXPORTER_OTLP_TRACES_ENDPOINT %s lua5.4 %s %s %s %s 2>&1"):format(
    env, sh(here .. "fixtures/trace_flush_child.lua"), sh(sb.url), sh(exports), mode)))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

setup(function()
  sb = sandbox.start()
  rx = otlp.start(exports)
end)

teardown(function()
  if sb then sb:stop() end
  if rx then rx:stop() end
  os.remove(exports)
end)

describe("lira.trace.flush", function()
  it("sends the ended spans now and returns once the collector has them", function()
    local out, ok = child("ok", rx.url .. "/v1/traces")
    assert.is_true(ok, out)
    assert.equal("0", out:match("before (%d+)"), out)          -- the delay holds them back
    assert.equal("true nil 5", out:match("main (%S+ %S+ %d+)"), out)
    local ok2, n, status = out:match("tasks (%S+) (%d+) (%S+)")
    assert.equal("true", ok2, out)                             -- from a task: it yields
    assert.is_true(tonumber(n) >= 11, out)                     -- 5 + the tasks' 6
    assert.equal("200", status, out)                           -- the other task ran meanwhile
  end)

  it("gives up after the timeout with a timeout error, the spans still pending", function()
    local out, ok = child("dead", "http://127.0.0.1:9/v1/traces")
    assert.is_true(ok, out)
    local res, kind, pending, took = out:match("dead (%S+) (%S+) (%-?%d+) ([%d.]+)")
    assert.equal("nil", res, out)
    assert.equal("timeout", kind, out)
    assert.equal("1", pending, out)
    assert.is_true(tonumber(took) >= 0.2 and tonumber(took) < 2, out)
  end)

  it("returns true at once when nothing is exported", function()
    local out, ok = child("none", nil)
    assert.is_true(ok, out)
    local res, took = out:match("none (%S+) ([%d.]+)")
    assert.equal("true", res, out)
    assert.is_true(tonumber(took) < 0.1, out)
  end)

  it("rejects a bad timeout, naming the argument", function()
    for _, bad in ipairs { "1", -1, 0 / 0, math.huge, {} } do
      local ok, err = pcall(lira.trace.flush, bad)
      assert.is_false(ok)
      assert.matches("bad argument #1 to 'flush' %(timeout must be", err)
    end
  end)
end)
