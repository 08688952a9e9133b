-- examples/orders_sync.lua, tested in the three layers of docs/testing.md:
--   unit         t.clock + t.mock: retries, Retry-After, resuming from a checkpoint
--   contract     a cassette recorded from `lira sandbox`, replayed; t.shape on what it reads
--   integration  t.sandbox + t.runtime: one sync against a real sandbox
-- Refresh the cassette: LIRA_CASSETTE=record busted tests/lua/examples_orders_sync_spec.lua
local lira = require "lira"
local t = require "lira.testing"

local FILE = "examples/orders_sync.lua"
local CASSETTE = "tests/lua/fixtures/cassettes/orders_sync.json"

-- One page of /paginate/cursor as the shop sends it.
local function page(from, to, more)
  local data = {}
  for id = from, to do data[#data + 1] = { id = id } end
  return { status = 200, json = { data = data, meta = { next = more and tostring(to) or lira.null,
                                                        has_more = more } } }
end

describe("examples/orders_sync.lua", function()
  local rt
  before_each(function() t.reset { clock = true } end)
  after_each(function() if rt then rt:close() rt = nil end end)

  describe("unit", function()
    before_each(function()
      rt = t.runtime(FILE, { env = { SHOP_URL = "https://shop.test" } })
    end)

    it("rides out 503s and a 429 on /inventory, in simulated time", function()
      local mock = t.mock("shop", {
        ["GET /inventory"] = { { status = 503 }, { status = 503 },
                               { status = 429, headers = { ["Retry-After"] = "2" } },
                               { status = 200, json = { stock = 3 } } },
        ["GET /paginate/cursor"] = page(1, 5, false),
      })
      assert.is_true(rt:sync())
      local calls = mock:calls_to("GET /inventory")
      assert.are.equal(4, #calls)                        -- retry.attempts = 4
      for i = 2, 3 do                                    -- backoff: base 0.1, cap 2
        local d = calls[i].at - calls[i - 1].at
        assert.is_true(d >= 0 and d <= 2, "backoff " .. d)
      end
      assert.is_true(math.abs(calls[4].at - calls[3].at - 2) < 1e-6)   -- Retry-After honoured
      for _, c in ipairs(calls) do assert.are.equal("2024-06-01", c.headers["Shop-Version"]) end
      assert.are.equal(5, rt:state():get("synced"))
      assert.are.equal(0, #rt:logs { msg = "inventory unavailable, syncing orders anyway" })
      mock:assert_done()
    end)

    it("goes on without the inventory, and resumes at the page after a failed run", function()
      local mock = t.mock("shop", {
        ["GET /inventory"] = { status = 503 },
        ["GET /paginate/cursor"] = { page(1, 10, true), { status = 500 } },
      })
      local ok, err = rt:sync()                          -- page 2 fails: the run fails
      assert.is_nil(ok)
      assert.matches("page 2 failed", err)
      -- /inventory failed every retry (logged by the client), the run went on
      assert.are.equal(1, #rt:logs { msg = "call failed", endpoint = "/inventory" })
      assert.are.equal(10, rt:state():get("order:10").id)
      mock:restore()
      mock = t.mock("shop", { ["GET /inventory"] = { json = { stock = 1 } },
                              ["GET /paginate/cursor"] = page(11, 15, false) })
      t.clock():advance(5)                               -- past the breaker's cooldown
      assert.is_true(rt:sync())                          -- the next run resumes at page 2
      local pages = mock:calls_to("GET /paginate/cursor")
      assert.are.equal(1, #pages)
      assert.are.equal("10", pages[1].query.starting_after)
      assert.are.equal(5, rt:state():get("synced"))      -- the items of the 2nd run
      assert.is_true(rt:checkpoint("orders-sync"):get().done)
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
      assert.is_true(rt:sync())
      cassette:assert_all_matched()
      cassette:eject()
      assert.are.equal(57, rt:state():get("synced"))
      -- What orders_sync.lua relies on, in every recorded page.
      local doc = lira.json.decode(assert(io.open(CASSETTE)):read("a"))
      local n = 0
      for _, i in ipairs(doc.interactions) do
        if i.request.path:find("^/paginate/cursor") then
          n = n + 1
          t.shape(i.response.json, {
            data = { { id = "integer" } },
            meta = { next = t.nullable("string"), has_more = "boolean" },
          }, "GET " .. i.request.path)
        end
      end
      assert.are.equal(6, n)
    end)
  end)

  describe("integration", function()
    it("syncs every order from a real sandbox, checkpointed", function()
      local sb <close> = t.sandbox { scenario = "examples/demo/scenario.json" }
      rt = t.runtime(FILE, { env = { SHOP_URL = sb.url } })
      assert.is_true(rt:sync())
      assert.are.equal(57, rt:state():get("synced"))
      assert.are.same({ id = 57 }, rt:state():get("order:57"))
      local cp = rt:checkpoint("orders-sync"):get()
      assert.are.equal(57, cp.items)
      assert.is_true(cp.done)
      -- What the server saw: the inventory through its 503 burst, then 6 pages.
      local inv = sb:log { path = "/inventory" }
      assert.are.equal(3, #inv)
      sb:reset()
      assert.is_true(rt:sync())   -- a second run walks the collection again
      local pages = sb:log { path = "/paginate/cursor" }
      assert.are.equal(6, #pages)
      assert.are.equal("limit=10&starting_after=50&total=57", pages[6].query)
      assert.are.equal("2024-06-01", t.header(pages[1], "Shop-Version"))
      assert.are.equal(114, rt:state():get("synced"))
      assert.are.equal(2, rt:metric("lira_integration_runs_total",
                                    { integration = "orders", result = "ok" }))
    end)
  end)
end)
