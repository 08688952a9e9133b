-- lira.trace (§9): span(name, fn) makes a child of the current span while fn
-- runs — per coroutine, so tasks that yield inside their spans never see
-- each other's — and restores the previous one when fn returns or raises;
-- current() gives trace_id, span_id and the traceparent to send.
local lira = require "lira"

local function parse(tp)
  return tp:match("^00%-(%x+)%-(%x+)%-(%x%x)$")
end

describe("lira.trace", function()
  it("has no current span outside any span", function()
    assert.is_nil(lira.trace.current())
  end)

  it("sets the current span while fn runs and restores it after", function()
    local outer_tid, outer_sid
    local r1, r2 = lira.trace.span("outer", function(span)
      local tid, sid, tp = lira.trace.current()
      assert.equal(32, #tid)
      assert.equal(16, #sid)
      local t2, s2, flags = parse(tp)
      assert.equal(tid, t2)
      assert.equal(sid, s2)
      assert.equal("01", flags)             -- parentbased_always_on by default
      assert.same({ tid, sid, tp }, { span:ids() })
      outer_tid, outer_sid = tid, sid
      lira.trace.span("inner", function()
        local t3, s3 = lira.trace.current()
        assert.equal(outer_tid, t3)         -- same trace
        assert.not_equal(outer_sid, s3)     -- its own span
      end)
      local t4, s4 = lira.trace.current()
      assert.equal(outer_sid, s4)
      assert.equal(outer_tid, t4)
      span:set("k", "v"); span:set("n", 3); span:set("f", 0.5); span:set("b", true)
      return "a", "b"
    end)
    assert.equal("a", r1)
    assert.equal("b", r2)
    assert.is_nil(lira.trace.current())
  end)

  it("re-raises fn's error and restores the current span", function()
    local ok, err = pcall(lira.trace.span, "boom", function() error("bad thing") end)
    assert.is_false(ok)
    assert.matches("bad thing", tostring(err))
    assert.is_nil(lira.trace.current())
  end)

  it("keeps the current span per task across yields", function()
    local seen = {}
    local function worker(name)
      return function()
        lira.trace.span(name, function()
          local _, mine = lira.trace.current()
          for i = 1, 3 do
            lira.sleep(0.001 * i)
            local _, now = lira.trace.current()
            seen[#seen + 1] = (now == mine)
          end
        end)
        return lira.trace.current()
      end
    end
    local a, b
    lira.run(function()
      a = lira.spawn(worker("a"))
      b = lira.spawn(worker("b"))
    end)
    local oka, ca = a:join()
    local okb, cb = b:join()
    assert.is_true(oka); assert.is_true(okb)
    assert.is_nil(ca); assert.is_nil(cb)
    assert.equal(6, #seen)
    for _, same in ipairs(seen) do assert.is_true(same) end
  end)

  it("samples by the sampler set while running (core.trace_sampler, for the bench)", function()
    local core = require "lira.core"
    local function flags()
      return lira.trace.span("s", function() return select(3, lira.trace.current()):sub(-2) end)
    end
    core.trace_sampler("always_off")
    assert.equal("00", flags())
    core.trace_sampler("traceidratio", "1")
    assert.equal("01", flags())
    local ok, err = pcall(core.trace_sampler, "sometimes")
    assert.is_false(ok)
    assert.matches("bad argument #1 to '[%w.]*trace_sampler' %(not an OTEL_TRACES_SAMPLER setting%)", err)
    assert.has_error(function() core.trace_sampler("traceidratio", "x") end)
    core.trace_sampler("parentbased_always_on")   -- the default again
    assert.equal("01", flags())
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() lira.trace.span("x") end)
    assert.has_error(function() lira.trace.span(nil, function() end) end)
    lira.trace.span("x", function(span)
      assert.has_error(function() span:set("k", {}) end)
    end)
  end)
end)
