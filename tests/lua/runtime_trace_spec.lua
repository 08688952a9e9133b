-- Inbound trace context in `lira run` (docs/webhooks.md, "Tracing"): a
-- webhook that arrives with a W3C traceparent is delivered inside a
-- CONSUMER span of the sender's trace, exported over OTLP/HTTP to a
-- stand-in collector; without one (or with a malformed one) the delivery
-- starts a trace of its own. Real HTTP from curl, the real binary, and
-- every wait a poll with a deadline.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path
local runtime = require "helpers.runtime"
local otlp = require "helpers.otlp"
local lira = require "lira"

local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local CURL = "env -u LD_PRELOAD curl"   -- curl hangs under a sanitized build's preload

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

local function post(url, body, headers)
  local h = {}
  for k, v in pairs(headers or {}) do h[#h + 1] = "-H " .. sh(k .. ": " .. v) end
  local f = io.popen(("%s -s -o /dev/null -w '%%{http_code}' -X POST %s --data-binary %s %s")
    :format(CURL, table.concat(h, " "), sh(body), sh(url)))
  local code = tonumber(f:read("a"))
  f:close()
  return code
end

-- Every exported span, from the collector's file (one export per line).
local function spans(path)
  local out = {}
  for line in slurp(path):gmatch("[^\n]+") do
    local ok, doc = pcall(lira.json.decode, line)
    for _, rs in ipairs(ok and doc.resourceSpans or {}) do
      for _, ss in ipairs(rs.scopeSpans or {}) do
        for _, s in ipairs(ss.spans or {}) do out[#out + 1] = s end
      end
    end
  end
  return out
end

-- The handler writes "id trace_id" for each event it is given.
local HOOKS = [[
local lira = require "lira"
return lira.integration { name = "tr", webhooks = {
  ["/t"] = { verify = false, id = "json:id", handle = function(ev)
    local trace_id = lira.trace.current()
    local f = assert(io.open(os.getenv("HOOK_OUT"), "a"))
    f:write(ev.id, " ", tostring(trace_id), "\n")
    f:close()
  end } } }
]]

local SENDER_TRACE, SENDER_SPAN = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"

describe("lira run: a webhook's traceparent", function()
  local d, p, rx, exports, out

  setup(function()
    d = runtime.dir { ["tr.lua"] = HOOKS }
    out, exports = d.path .. "/handled.txt", d.path .. "/exports.jsonl"
    rx = otlp.start(exports)
    p = runtime.start { d.path, args = { "--no-reload" }, env = {
      HOOK_OUT = out, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = rx.url .. "/v1/traces",
      OTEL_BSP_SCHEDULE_DELAY = "50", OTEL_SERVICE_NAME = "trace-spec",
      OTEL_TRACES_SAMPLER = "parentbased_always_on" } }
  end)

  teardown(function()
    if p then p:stop() end
    if rx then rx:stop() end
    d:rm()
  end)

  local function handled(id)
    return p:wait(function() return slurp(out):match(id .. " (%x+)\n") end, 10,
                  "the delivery of " .. id)
  end

  local function span_of(trace_id)
    return p:wait(function()
      for _, s in ipairs(spans(exports)) do
        if s.name == "tr webhook" and s.traceId == trace_id then return s end
      end
    end, 10, "the delivery span of trace " .. trace_id)
  end

  it("continues the sender's trace: same trace id, the sender's span as parent", function()
    assert.are.equal(202, post(p.url .. "/t", '{"id":"ev1"}', {
      traceparent = "00-" .. SENDER_TRACE .. "-" .. SENDER_SPAN .. "-01",
      tracestate = "vendor=abc" }))
    assert.are.equal(SENDER_TRACE, handled("ev1"))
    local s = span_of(SENDER_TRACE)
    assert.are.equal(SENDER_SPAN, s.parentSpanId)
    assert.are.equal(5, s.kind)                 -- SPAN_KIND_CONSUMER
    assert.are.equal("vendor=abc", s.traceState)
    assert.are_not.equal(SENDER_SPAN, s.spanId)
  end)

  it("starts a trace of its own without a traceparent, or with a malformed one", function()
    assert.are.equal(202, post(p.url .. "/t", '{"id":"ev2"}'))
    assert.are.equal(202, post(p.url .. "/t", '{"id":"ev3"}', {
      traceparent = "00-" .. ("z"):rep(32) .. "-" .. SENDER_SPAN .. "-01" }))
    for _, id in ipairs { "ev2", "ev3" } do
      local trace_id = handled(id)
      assert.are_not.equal(SENDER_TRACE, trace_id)
      local s = span_of(trace_id)
      assert.is_true(s.parentSpanId == nil or s.parentSpanId == "")
    end
  end)
end)
