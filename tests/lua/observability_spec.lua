-- Observability end to end (issue 5, docs/observability.md): a child lua5.4
-- runs a client against a real `lira sandbox` with secrets in the query, in
-- headers, in the base URL's userinfo, in a body and in lira.log fields,
-- with LIRA_LOG_LEVEL=debug to a file and traces exported to a stand-in
-- collector (helpers/otlp_receiver.py, which keeps every export body).
-- Then: no secret in the log, the exports or lira.metrics.text(); the call's
-- log lines carry the ids of the traceparent the server received; the
-- metrics after real calls (status classes, retries, breaker gauge,
-- pagination) pass `promtool check metrics`.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

local sandbox = require "helpers.sandbox"
local otlp = require "helpers.otlp"
local json = require("lira").json

local SECRETS = { "SECRET1", "SECRET2", "SECRET3", "SECRET4", "SECRET5", "SECRET6", "SECRET7",
                  "SECRET8", "SECRET9" }

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

local function lines_of(text)
  local out = {}
  for l in text:gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

local sb, rx
local dir = os.tmpname()
local log_file, exports_file, metrics_file = dir .. ".log", dir .. ".otlp", dir .. ".prom"
local child_out, child_ok, received

setup(function()
  sb = sandbox.start()
  rx = otlp.start(exports_file)
  local env = {
    LIRA_LOG_LEVEL = "debug", LIRA_LOG_FILE = log_file, LIRA_LOG_FORMAT = "json",
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = rx.url .. "/v1/traces",
    OTEL_BSP_SCHEDULE_DELAY = "50", OTEL_SERVICE_NAME = "obs-spec",
    OTEL_TRACES_SAMPLER = "parentbased_always_on",
  }
  local parts = {}
  for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. sh_quote(v) end
  local p = assert(io.popen(("%s lua5.4 %s %s %s 2>&1"):format(table.concat(parts, " "),
    sh_quote(here .. "fixtures/observability_child.lua"), sh_quote(sb.url),
    sh_quote(metrics_file))))
  child_out = p:read("a")
  child_ok = p:close()
  received = sb:log(true)
end)

teardown(function()
  if sb then sb:stop() end
  if rx then rx:stop() end
  for _, f in ipairs { dir, log_file, exports_file, metrics_file } do os.remove(f) end
end)

local function parsed_log()
  local out = {}
  for _, l in ipairs(lines_of(slurp(log_file))) do out[#out + 1] = json.decode(l) end
  return out
end

describe("observability end to end", function()
  it("the child ran every call (and the server really saw the secrets)", function()
    assert.is_true(child_ok, child_out)
    local seen = {}
    for _, e in ipairs(received) do
      local blob = json.encode(e)
      for _, s in ipairs(SECRETS) do
        if blob:find(s, 1, true) then seen[s] = true end
      end
    end
    -- in the request line or headers the server logged (bodies are not logged)
    for _, s in ipairs { "SECRET1", "SECRET2", "SECRET4", "SECRET5", "SECRET9" } do
      assert.is_true(seen[s], s .. " never reached the server: the test proves nothing")
    end
  end)

  it("no secret in the log file, the exported spans or the metrics", function()
    local log, exports, metrics = slurp(log_file), slurp(exports_file), slurp(metrics_file)
    assert.is_true(#log > 0 and #exports > 0 and #metrics > 0)
    for _, s in ipairs(SECRETS) do
      assert.is_nil(log:find(s, 1, true), s .. " in the log:\n" .. log)
      assert.is_nil(exports:find(s, 1, true), s .. " in an exported span")
      assert.is_nil(metrics:find(s, 1, true), s .. " in the metrics")
      assert.is_nil(child_out:find(s, 1, true), s .. " on stderr/stdout")
    end
    assert.truthy(log:find("REDACTED", 1, true))
    assert.truthy(log:find('"endpoint":"/anything/orders/{id}"', 1, true))
    assert.truthy(log:find('"endpoint":"/anything"', 1, true))   -- the query is not a template
  end)

  it("every line is JSON, and a caller's own X-Request-Id is escaped in it", function()
    local mine, generated = 0, 0
    for _, l in ipairs(parsed_log()) do   -- json.decode raises on a broken line
      if l.msg == "call" and l.request_id == 'mine"\\1' then mine = mine + 1 end
      if l.msg == "call" and tostring(l.request_id):match("^%x+%-%x+%-4%x+%-%x+%-%x+$") then
        generated = generated + 1
      end
    end
    assert.equals(1, mine)
    assert.is_true(generated >= 4)
    assert.truthy(slurp(log_file):find('"request_id":"mine\\"\\\\1"', 1, true))
  end)

  it("a call's log lines carry the ids of the traceparent the server received", function()
    local rid = child_out:match("traced (%S+)")
    assert.is_string(rid, child_out)
    local tp
    for _, e in ipairs(received) do
      if sandbox.header(e, "X-Request-Id") == rid then tp = sandbox.header(e, "traceparent") end
    end
    assert.is_string(tp, "the server got no traceparent")
    local trace_id, span_id = tp:match("^00%-(%x+)%-(%x+)%-01$")
    assert.equals(32, #trace_id)
    local call, attempt, user
    for _, l in ipairs(parsed_log()) do
      if l.request_id == rid and l.msg == "call" then call = l end
      if l.request_id == rid and l.msg == "attempt" then attempt = l end
      if l.msg == "synced" then user = l end
    end
    assert.is_table(call)
    assert.is_table(attempt)
    assert.equals(trace_id, call.trace_id)        -- the call span, same trace
    assert.equals(trace_id, attempt.trace_id)
    assert.equals(span_id, attempt.span_id)       -- the attempt span is what went out
    -- one attempt: its CLIENT span is the call's span (no separate call span)
    assert.equals(span_id, call.span_id)
    -- lira.log inside the span: the same trace, the span's own id
    assert.equals(trace_id, user.trace_id)
    assert.equals("REDACTED", user.token)
    -- and the exported spans hold that attempt span, child of the span the
    -- call ran in, with the call's client and template
    assert.is_string(user.span_id)
    local found
    for _, l in ipairs(lines_of(slurp(exports_file))) do
      for _, rs in ipairs(json.decode(l).resourceSpans) do
        for _, ss in ipairs(rs.scopeSpans) do
          for _, s in ipairs(ss.spans) do
            if s.spanId == span_id then
              found = s
              assert.equals(trace_id, s.traceId)
              assert.equals(user.span_id, s.parentSpanId)
              assert.equals(3, s.kind)
              local attrs = {}
              for _, a in ipairs(s.attributes) do attrs[a.key] = a.value.stringValue end
              assert.equals("shop", attrs["lira.client"])
              assert.equals("/anything/orders/{id}", attrs["url.template"])
            end
          end
        end
      end
    end
    assert.is_table(found, "the attempt span was not exported")
  end)

  it("per-call metrics after real calls pass promtool", function()
    local m = slurp(metrics_file)
    local function has(s) assert.truthy(m:find(s, 1, true), s .. " missing in\n" .. m) end
    has('lira_client_requests_total{client="shop",endpoint="/anything/orders/{id}",' ..
        'status_class="2xx"} 1')
    has('lira_client_requests_total{client="shop",endpoint="/status/{code}",' ..
        'status_class="5xx"} 1')
    has('lira_client_retries_total{client="shop",endpoint="/status/{code}",' ..
        'reason="status_5xx"} 2')
    has('lira_breaker_state{client="fragile"} 1')
    has('lira_breaker_state{client="shop"} 4')   -- breaker = false: disabled
    has('lira_breaker_transitions_total{client="fragile",from="closed",to="open"} 1')
    has('lira_client_requests_total{client="fragile",endpoint="/status/500",status_class="5xx"} 2')
    has('lira_client_errors_total{client="fragile",endpoint="/status/500",kind="breaker_open"} 2')   -- trips after 2
    has('lira_paginate_pages_total{checkpoint="none"} 3')
    has('lira_paginate_items_total{checkpoint="none"} 7')
    has('http_client_request_duration_seconds_count{http_request_method="GET",' ..
        'http_response_status_code="503",server_address="127.0.0.1",error_type=""} 3')
    if os.execute("command -v promtool >/dev/null 2>&1") then
      local p = io.popen(("promtool check metrics < %s 2>&1"):format(sh_quote(metrics_file)))
      local report = p:read("a")
      assert.is_true(p:close(), report)
    end
  end)
end)
