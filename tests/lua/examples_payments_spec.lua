-- examples/payments.lua, tested in the three layers of docs/testing.md:
--   unit         t.clock + t.mock: retries in simulated time, one idempotency key
--                across retries and across runs, the ledger's fallback
--   contract     a cassette recorded from `lira sandbox`, replayed; t.shape on what it reads
--   integration  t.sandbox + t.runtime: three runs against a real sandbox, one effect each
-- Refresh the cassette: LIRA_CASSETTE=record busted tests/lua/examples_payments_spec.lua
local lira = require "lira"
local t = require "lira.testing"

local FILE = "examples/payments.lua"
local CASSETTE = "tests/lua/fixtures/cassettes/payments.json"

describe("examples/payments.lua", function()
  local rt
  before_each(function() t.reset { clock = true } end)
  after_each(function() if rt then rt:close() rt = nil end end)

  describe("unit", function()
    before_each(function()
      rt = t.runtime(FILE, { env = { SHOP_URL = "https://shop.test" } })
    end)

    it("retries a payment with backoff and one idempotency key; the ledger degrades", function()
      local mock = t.mock("https://shop.test", {
        ["POST /payments"] = { { status = 503 }, { status = 503 },
                               { status = 201, json = { id = "pay_1", status = "succeeded" } } },
        ["GET /ledger"] = { status = 500 },
      })
      assert.is_true(rt:sync())
      local pays = mock:calls_to("POST /payments")
      assert.are.equal(3, #pays)
      local key = pays[1].headers["Idempotency-Key"]
      assert.is_string(key)
      for i, c in ipairs(pays) do
        assert.are.equal(key, c.headers["Idempotency-Key"])
        assert.are.same({ order = 1, amount = 100, currency = "EUR" }, c.json)
        if i > 1 then assert.is_true(c.at - pays[i - 1].at <= 1) end   -- backoff cap 1 s
      end
      local taken = rt:logs { msg = "payment taken" }
      assert.are.equal(1, #taken)
      assert.are.equal(3, taken[1].attempts)
      assert.are.equal("fallback", taken[1].ledger)
      assert.are.equal(1, rt:state():get("next_order"))
    end)

    it("sends the same key again on the next run after a payment failed", function()
      local mock = t.mock("https://shop.test", { ["POST /payments"] = { status = 503 } })
      assert.is_true(rt:sync())                  -- the run logs and returns
      assert.are.equal(5, #mock.calls)           -- retry.attempts = 5
      assert.are.equal(1, #rt:logs { msg = "payment not taken, retried next run with the same key" })
      assert.is_nil(rt:state():get("next_order"))
      local key = mock.calls[1].headers["Idempotency-Key"]
      mock:restore()
      mock = t.mock("https://shop.test", {
        ["POST /payments"] = { status = 201, json = { id = "pay_1" } },
        ["GET /ledger"] = { json = { balance = 100 } },
      })
      assert.is_true(rt:sync())
      assert.are.equal(key, mock:calls_to("POST /payments")[1].headers["Idempotency-Key"])
      assert.are.equal("live", rt:logs { msg = "payment taken" }[1].ledger)
      assert.are.equal(1, rt:state():get("next_order"))
    end)
  end)

  describe("contract", function()
    local sb
    setup(function()
      if (os.getenv("LIRA_CASSETTE") or "replay") == "record" then
        sb = t.sandbox { scenario = "examples/demo/scenario.json" }
      end
    end)
    teardown(function() if sb then sb:stop() end end)

    it("replays the recorded shop, and the fields it reads are still there", function()
      local url = sb and sb.url or "http://shop.cassette"
      local cassette = t.cassette(CASSETTE, nil, { client = url })
      rt = t.runtime(FILE, { env = { SHOP_URL = url } })
      for _ = 1, 3 do assert.is_true(rt:sync()) end
      cassette:assert_all_matched()
      cassette:eject()
      assert.are.equal(3, rt:state():get("next_order"))
      local doc = lira.json.decode(assert(io.open(CASSETTE)):read("a"))
      local seen = {}
      for _, i in ipairs(doc.interactions) do
        local what = i.request.method .. " " .. i.request.path
        if i.request.path == "/payments" and i.response.status == 201 then
          t.shape(i.response.json, { id = "string", status = "string" }, what)
          seen.payment = (seen.payment or 0) + 1
        elseif i.request.path == "/ledger" then
          t.shape(i.response.json, { balance = "number" }, what)
          seen.ledger = (seen.ledger or 0) + 1
        end
      end
      assert.are.same({ payment = 3, ledger = 3 }, seen)
    end)
  end)

  describe("integration", function()
    it("takes three payments from a real sandbox, each applied once", function()
      local sb <close> = t.sandbox { scenario = "examples/demo/scenario.json" }
      rt = t.runtime(FILE, { env = { SHOP_URL = sb.url } })
      for _ = 1, 3 do assert.is_true(rt:sync()) end
      assert.are.equal(3, rt:state():get("next_order"))
      -- Order 3 asks the sandbox to lose two answers: three attempts, one key.
      local posts = sb:log { path = "/payments" }
      assert.are.equal(5, #posts)
      local k3 = t.header(posts[3], "Idempotency-Key")
      assert.are.equal(k3, t.header(posts[5], "Idempotency-Key"))
      local effects = lira.json.decode(sb:request("GET", "/payments/_effects").body)
      assert.are.equal(3, effects.total)
      for _, n in pairs(effects.keys) do assert.are.equal(1, n) end
      assert.are.equal(3, rt:metric("lira_integration_runs_total",
                                    { integration = "payments", result = "ok" }))
    end)
  end)
end)
