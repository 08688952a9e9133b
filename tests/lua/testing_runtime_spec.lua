-- lira.testing's integration layer tests itself: t.sandbox (a real process),
-- t.runtime running a sync and delivering webhooks end to end (verify,
-- dedupe, the durable inbox, handler retries).
local lira = require "lira"
local t = require "lira.testing"

local SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
local HOOKS = "tests/lua/fixtures/testing_runtime/hooks.lua"

describe("t.sign_webhook", function()
  it("signs as the providers do (verified by lira.webhook.verify)", function()
    for _, scheme in ipairs { "standard", "stripe", "github" } do
      local body = '{"order":1}'
      local h = t.sign_webhook { scheme = scheme, secret = SECRET, body = body, id = "e1" }
      assert(lira.webhook.verify { scheme = scheme, secret = SECRET, headers = h, body = body })
      local ok, err = lira.webhook.verify { scheme = scheme, secret = SECRET, headers = h,
                                            body = body .. " " }
      assert.is_nil(ok)
      assert.are.equal("bad_signature", err.kind)
    end
  end)
end)

describe("t.sandbox", function()
  it("starts a real sandbox, reads its log, resets and stops", function()
    local sb <close> = t.sandbox { scenario = { routes = {
      { path = "/thing", method = "GET", responses = { { status = 200, body = { n = 1 } } } },
    } } }
    assert.matches("^http://127%.0%.0%.1:%d+$", sb.url)
    local c = lira.client { name = "sbx", base_url = sb.url, retry = false }
    assert.are.equal(1, assert(c:get("/thing")):json().n)
    local log = sb:log()
    assert.are.equal(1, #log)
    assert.are.equal("/thing", log[1].path)
    assert.are.same({}, sb:log())          -- only what came since the last log()
    sb:reset()
    assert.are.same({}, sb:log { all = true })
    sb:stop()
    local res, err = c:get("/thing")
    assert.is_nil(res)
    assert.is_truthy(err)
  end)

  it("says why it could not start", function()
    local ok, err = pcall(t.sandbox, { scenario = "/nonexistent/scenario.json" })
    assert.is_false(ok)
    assert.matches("did not start", err)
    assert.matches("unknown option 'senario'", select(2, pcall(t.sandbox, { senario = {} })))
  end)
end)

describe("t.runtime", function()
  local rt
  before_each(function() t.reset { clock = true } end)
  after_each(function() if rt then rt:close() rt = nil end end)

  it("runs sync against a sandbox: state, checkpoints, logs, metrics", function()
    local sb <close> = t.sandbox()
    rt = t.runtime("examples/orders_sync.lua", { env = { SHOP_URL = sb.url } })
    assert.is_true(rt:sync())
    assert.are.equal(57, rt:state():get("synced"))
    assert.are.equal(57, rt:state():get("order:57").id)
    local lines = rt:logs { msg = "orders synced" }
    assert.are.equal(1, #lines)
    assert.are.equal("orders", lines[1].integration)
    assert.are.equal(1, rt:metric("lira_integration_runs_total",
                                  { integration = "orders", result = "ok" }))
    assert.is_true(#sb:log { path = "/paginate/cursor" } >= 6)
  end)

  it("reports a failing run as the runtime does", function()
    rt = t.runtime("examples/orders_sync.lua", { env = { SHOP_URL = "http://127.0.0.1:9" } })
    local ok, msg = rt:sync()
    assert.is_nil(ok)
    assert.is_string(msg)
    assert.are.equal(1, #rt:logs { msg = "integration: run failed", integration = "orders" })
    assert.are.equal(1, rt:metric("lira_integration_runs_total",
                                  { integration = "orders", result = "error" }))
  end)

  it("refuses an unknown option and a missing file with a clear message", function()
    assert.matches("unknown option 'evn'", select(2, pcall(t.runtime, HOOKS, { evn = {} })))
    assert.matches("no such file", select(2, pcall(t.runtime, "nope/x.lua")))
  end)

  it("undoes what it set up when a file does not load", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p '" .. dir .. "'"))
    local f = assert(io.open(dir .. "/broken.lua", "w"))
    f:write("return lira.integration {\n")   -- a syntax error
    f:close()
    local made, tmpname = {}, os.tmpname
    os.tmpname = function()   -- luacheck: ignore
      local name = tmpname()
      made[#made + 1] = name
      return name
    end
    local path_before = package.path
    local ok, err = pcall(t.runtime, dir .. "/broken.lua", { env = { UNDO_SPEC_VAR = "set" } })
    os.tmpname = tmpname      -- luacheck: ignore
    os.execute("rm -rf '" .. dir .. "'")
    assert.is_false(ok)
    assert.matches("broken.lua:2: unexpected symbol", tostring(err))
    assert.equal(path_before, package.path)
    assert.equal("default", lira.config("UNDO_SPEC_VAR", "default"))
    assert.is_true(#made >= 2)                      -- its state file and its log
    for _, name in ipairs(made) do assert.is_nil(io.open(name)) end
  end)

  describe("delivering a webhook", function()
    local function delivery(id, order, secret)
      local body = ('{"order":%d}'):format(order)
      return { body = body, headers = t.sign_webhook { scheme = "standard",
                                                       secret = secret or SECRET,
                                                       body = body, id = id } }
    end

    before_each(function() rt = t.runtime(HOOKS, { env = { HOOK_SECRET = SECRET } }) end)

    it("handles a valid delivery once, and a duplicate id not again", function()
      local r = rt:deliver("/hooks/shop", delivery("evt_1", 7))
      assert.are.equal(202, r.status)            -- as lira run answers a new event
      assert.are.equal("accepted", r.result)
      assert.is_true(r.handled)
      local again = rt:deliver("/hooks/shop", delivery("evt_1", 7))
      assert.are.equal(200, again.status)
      assert.are.equal("duplicate", again.result)
      assert.is_false(again.handled)
      assert.are.same({ "evt_1:7" }, rt:state():get("seen"))
      assert.are.equal("done", rt:event(r.seq).state)
      assert.are.equal(1, #rt:logs { msg = "hook handled" })
    end)

    it("refuses a bad signature: 401, nothing stored, nothing handled", function()
      local r = rt:deliver("/hooks/shop", delivery("evt_2", 1, "whsec_" .. ("QUJD"):rep(8)))
      assert.are.equal(401, r.status)
      assert.are.equal("bad_signature", r.result)
      local tampered = delivery("evt_3", 1)
      tampered.body = '{"order":2}'
      assert.are.equal("bad_signature", rt:deliver("/hooks/shop", tampered).result)
      assert.are.equal("missing_header", rt:deliver("/hooks/shop", { body = "{}" }).result)
      assert.are.same({ 0, 0, 0 }, { rt:inbox("/hooks/shop") })
      assert.is_nil(rt:state():get("seen"))
      assert.are.equal(404, rt:deliver("/hooks/nope", delivery("e", 1)).status)
    end)

    it("retries a failing handler with backoff, counting attempts", function()
      local clock = t.clock()
      rt:state():set("fail", 2)
      local r = rt:deliver("/hooks/shop", delivery("evt_4", 4))
      assert.are.equal(202, r.status)           -- acknowledged before the handler ran
      assert.is_false(r.handled)
      assert.are.equal(1, rt:event(r.seq).attempts)
      assert.are.same({ 0, 0 }, { rt:process() })   -- not due yet (0.5 s backoff, as lira run)
      clock:advance(1)
      assert.are.same({ 0, 1 }, { rt:process() })   -- 2nd attempt fails too
      clock:advance(2)
      assert.are.same({ 1, 0 }, { rt:process() })   -- 3rd succeeds
      local ev = rt:event(r.seq)
      assert.are.equal("done", ev.state)
      assert.are.equal(2, ev.attempts)              -- failed attempts
      assert.are.same({ "evt_4:4" }, rt:state():get("seen"))
      assert.are.equal(3, rt:logs { msg = "hook handled" }[1].attempt)
    end)

    it("continues the sender's trace, as lira run does", function()
      local d = delivery("evt_6", 6)
      d.headers.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
      assert.is_true(rt:deliver("/hooks/shop", d).handled)
      assert.are.equal("0af7651916cd43dd8448eb211c80319c", rt:state():get("trace:evt_6"))
      assert.is_true(rt:deliver("/hooks/shop", delivery("evt_7", 7)).handled)
      assert.are_not.equal("0af7651916cd43dd8448eb211c80319c", rt:state():get("trace:evt_7"))
    end)

    it("dead-letters after max_attempts", function()
      rt:close()
      rt = t.runtime(HOOKS, { env = { HOOK_SECRET = SECRET }, max_attempts = 2 })
      local clock = t.clock()
      rt:state():set("fail", 5)
      local r = rt:deliver("/hooks/shop", delivery("evt_5", 5))
      clock:advance(1)
      rt:process()
      assert.are.equal("dead", rt:event(r.seq).state)
      assert.are.same({ 0, 0, 1 }, { rt:inbox() })
    end)
  end)
end)
