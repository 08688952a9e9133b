-- lira.metrics (§9, docs/observability.md): user counters, gauges and
-- histograms, the Prometheus text (checked by promtool when installed),
-- the snapshot with percentiles, validation errors.
local lira = require "lira"
local m = lira.metrics

local function err(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok)
  return tostring(e)
end

local function promtool_ok(text)
  if not os.execute("command -v promtool >/dev/null 2>&1") then return true end
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  local out = io.popen("promtool check metrics < " .. path .. " 2>&1")
  local report = out:read("a")
  local ok = out:close()
  os.remove(path)
  return ok, report
end

describe("lira.metrics", function()
  it("counts, gauges and observes with labels", function()
    local c = m.counter("spec_orders_synced_total", { shop = "eu", kind = "full" }, "Orders synced")
    c:inc()
    c:inc(2)
    assert.equal(3, c:value())
    local again = m.counter("spec_orders_synced_total", { kind = "full", shop = "eu" })
    again:inc()
    assert.equal(4, c:value())   -- the same series, whatever the table order
    local g = m.gauge("spec_queue_depth")
    g:set(10)
    g:inc()
    g:dec(3)
    assert.equal(8, g:value())
    local h = m.histogram("spec_sync_seconds", { job = "orders" })
    for i = 1, 100 do h:observe(i / 100) end
    assert.equal(100, h:value())
  end)

  it("renders the Prometheus text exposition", function()
    m.counter("spec_text_total", { path = 'a"b\\c\nd' }, "Text\nhelp"):inc(5)
    local text = m.text()
    assert.truthy(text:find('# HELP spec_text_total Text\\nhelp\n# TYPE spec_text_total counter\n'
                            .. 'spec_text_total{path="a\\"b\\\\c\\nd"} 5\n', 1, true))
    assert.truthy(text:find('spec_sync_seconds_bucket{job="orders",le="0.5"} 50\n', 1, true))
    assert.truthy(text:find('spec_sync_seconds_bucket{job="orders",le="+Inf"} 100\n', 1, true))
    assert.truthy(text:find('spec_sync_seconds_count{job="orders"} 100\n', 1, true))
    -- the built-in metrics are always there
    assert.truthy(text:find("# TYPE http_client_request_duration_seconds histogram", 1, true))
    assert.truthy(text:find("# TYPE lira_breaker_state gauge", 1, true))
    assert.equal(text, m.text())   -- sorted, stable
    local ok, report = promtool_ok(text)
    assert(ok, report)
  end)

  it("snapshots with percentiles", function()
    local s = m.snapshot()
    local h = s.spec_sync_seconds
    assert.equal("histogram", h.type)
    local series = h.series[1]
    assert.equal("orders", series.labels.job)
    assert.equal(100, series.count)
    assert.near(0.50, series.p50, 0.01)
    assert.near(0.95, series.p95, 0.01)
    assert.near(0.99, series.p99, 0.01)
    assert.near(50.5, series.sum, 1e-6)
    assert.equal(4, s.spec_orders_synced_total.series[1].value)
    assert.equal("counter", s.spec_orders_synced_total.type)
  end)

  it("collapses label sets past the cap into other", function()
    for i = 1, 600 do m.counter("spec_many_total", { id = tostring(i) }):inc() end
    local s = m.snapshot()
    assert.equal(501, #s.spec_many_total.series)   -- 500 + other
    local other = s.spec_many_total.series[501]
    assert.equal("other", other.labels.id)
    assert.equal(100, other.value)
    local text = m.text()
    assert.truthy(text:find('lira_metrics_label_overflow_total{metric="spec_many_total"} 100\n',
                            1, true))
  end)

  it("switches the built-in metrics while running (core.metrics_builtin, for the bench)", function()
    local core = require "lira.core"
    assert.is_true(core.metrics_builtin())
    assert.is_false(core.metrics_builtin(false))
    assert.is_false(core.metrics_builtin())
    assert.is_true(core.metrics_builtin(true))
    local ok, err = pcall(core.metrics_builtin, 1)
    assert.is_false(ok)
    assert.matches("bad argument #1 to '[%w.]*metrics_builtin' %(boolean expected, got number%)", err)
  end)

  it("validates names, labels and values, naming the argument", function()
    assert.matches("bad argument #1 to 'counter' %(name must match",
                   err(m.counter, "9lives"))
    assert.matches("bad argument #1 to 'gauge' %(name must match", err(m.gauge, "a-b"))
    assert.matches("bad argument #2 to 'counter' %(label names must match",
                   err(m.counter, "spec_x_total", { ["bad-label"] = "v" }))
    assert.matches("bad argument #2 to 'counter' %(label names must match",
                   err(m.counter, "spec_x_total", { __reserved = "v" }))
    assert.matches("labels.k must be a string, number or boolean",
                   err(m.counter, "spec_x_total", { k = {} }))
    assert.matches("a histogram cannot have an 'le' label",
                   err(m.histogram, "spec_h_seconds", { le = "1" }))
    assert.matches("spec_orders_synced_total is already a counter with labels {kind, shop}",
                   err(m.gauge, "spec_orders_synced_total", { kind = "x", shop = "y" }))
    assert.matches("already a counter", err(m.counter, "spec_orders_synced_total"))
    local c = m.counter("spec_x_total")
    assert.matches("must be a finite number >= 0", err(c.inc, c, -1))
    local h = m.histogram("spec_h_seconds")
    assert.matches("seconds must be a number >= 0", err(h.observe, h, -0.5))
    assert.is_nil(c.set)   -- counters only go up
  end)
end)
