-- t.mock: scripted responses under the real call pipeline.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

local lira = require "lira"
local t = require "lira.testing"
local sandbox = require "helpers.sandbox"

local function client(opts)
  local o = { name = "orders", base_url = "https://api.example.test/v2",
              retry = { attempts = 4, base = 1, cap = 30, jitter = "none" } }
  for k, v in pairs(opts or {}) do o[k] = v end
  return lira.client(o)
end

describe("lira.testing mock", function()
  local clock
  before_each(function() clock = t.reset{ clock = true } end)

  it("serves a sequence per route; the real retry code reads Retry-After", function()
    local api = client()
    local m = t.mock(api, {
      ["GET /orders/{id}"] = { { status = 503 }, { status = 429, headers = { ["Retry-After"] = "5" } },
                               { status = 200, json = { id = 42 } } },
    })
    local res = assert(api:get("/orders/42"))
    assert.are.equal(200, res.status)
    assert.are.equal(42, res:json().id)
    assert.are.equal("application/json", res.headers["content-type"])
    local at = {}
    for i, c in ipairs(m.calls) do at[i] = c.at end
    assert.are.same({ 0, 1, 6 }, at)            -- backoff 1 s, then Retry-After 5 s over backoff 2 s
    assert.are.equal("/orders/42", m.calls[1].path)
    assert.are.equal("https://api.example.test/v2/orders/42", m.calls[1].url)
    assert.are.equal("GET /orders/{id}", m.calls[3].route)
    assert.are.equal(6, clock:now())
    -- the last step repeats
    assert.are.equal(200, assert(api:get("/orders/7")).status)
    m:assert_done()
  end)

  it("keeps the same Idempotency-Key on every retry of a POST", function()
    local api = client()
    local m = t.mock(api, {
      ["POST /payments"] = { { error = "timeout" }, { status = 502 }, { error = "transport" },
                             { status = 201, json = { ok = true } } },
    })
    local res = assert(api:post("/payments", { json = { amount = 5 }, idempotency_key = "pay-1" }))
    assert.are.equal(201, res.status)
    assert.are.equal(4, #m.calls)
    for _, c in ipairs(m.calls) do
      assert.are.equal("pay-1", c.headers["Idempotency-Key"])
      assert.are.equal("pay-1", c.headers["idempotency-key"])
      assert.are.equal(5, c.json.amount)
    end
    assert.are.same({ "timeout", nil, "transport", nil },
                    { m.calls[1].failure, m.calls[2].failure, m.calls[3].failure, m.calls[4].failure })
  end)

  it("fails an unmatched request at once with the routes it could have matched", function()
    local api = client()
    local m = t.mock(api, { ["GET /orders/{id}"] = { status = 200 }, ["POST /orders"] = { status = 201 } })
    local res, err = api:get("/customers/1")
    assert.is_nil(res)
    assert.matches("mock 'orders' has no route for GET /customers/1; routes: GET /orders/{id}, POST /orders",
                   err.message, 1, true)
    assert.are.equal(1, #m:unmatched())        -- no retries of a request nobody scripted
    local ok, why = pcall(m.assert_done, m)
    assert.is_false(ok)
    assert.matches("unmatched GET /customers/1", why, 1, true)
    assert.matches("route GET /orders/{id}: 1 scripted response was never served", why, 1, true)
  end)

  it("repeat = n serves a step n times; strict mocks run out", function()
    local api = client { retry = false }
    local m = t.mock(api, { ["GET /x"] = { { status = 500, ["repeat"] = 2 }, { status = 200 } } },
                     { strict = true })
    assert.are.equal(500, api:get("/x").status)
    assert.are.equal(500, api:get("/x").status)
    assert.are.equal(200, api:get("/x").status)
    local _, err = api:get("/x")
    assert.matches("route GET /x has no scripted response left", err.message, 1, true)
    assert.has_error(function() m:assert_done() end)
  end)

  it("delays are simulated; a read timeout cuts a slow step", function()
    local api = client { timeout = { read = 2 }, retry = false }
    t.mock(api, { ["GET /slow"] = { delay = 10 }, ["GET /ok"] = { delay = 1.5, body = "hi" } })
    local res = assert(api:get("/ok"))
    assert.are.equal("hi", res.body)
    assert.are.equal(1.5, clock:now())
    local _, err = api:get("/slow")
    assert.are.equal("timeout", err.kind)
    assert.are.equal(3.5, clock:now())
  end)

  it("matches method, templates, wildcards and the base path; reports query and body", function()
    local api = client()
    local m = t.mock(api, {
      ["/any/{x}"] = { status = 204 },
      ["GET /files/*"] = { status = 200, body = "file" },
      ["GET /files/special"] = { status = 200, body = "special" },
    })
    assert.are.equal(204, api:delete("/any/1").status)
    assert.are.equal("file", api:get("/files/a/b/c", { query = { q = "x y", n = 2 } }).body)
    assert.are.equal("special", api:get("/files/special").body)
    local c = m.calls[2]
    assert.are.same({ q = "x y", n = "2" }, c.query)
    assert.are.equal("GET /files/*", c.route)
  end)

  it("mocks by client name, before the client exists", function()
    local m = t.mock("billing", { ["GET /invoices"] = { json = {} } })
    local b = lira.client { name = "billing", base_url = "https://billing.test" }
    assert.are.equal(200, b:get("/invoices").status)
    assert.are.equal(1, #m.calls)
    m:restore()
  end)

  it("validates routes and steps with messages that name the problem", function()
    local api = client()
    assert.has_error(function() t.mock(api, { ["GET orders"] = {} }) end)
    assert.has_error(function() t.mock(api, { ["GET /x"] = { stauts = 200 } }) end,
      "lira.testing: route GET /x, step 1: unknown step field 'stauts' (status, headers, json, " ..
      "body, delay, error, message, repeat, hang)")
    assert.has_error(function() t.mock(api, { ["GET /x"] = { error = "boom" } }) end)
    assert.has_error(function() t.mock(api, { ["GET /x"] = { { ["repeat"] = true }, {} } }) end)
  end)

  it("t.reset drops the mocks but keeps what they recorded", function()
    local api = client()
    local m = t.mock(api, { ["GET /a"] = { status = 200 } })
    api:get("/a")
    t.reset{ clock = true }
    assert.are.equal(1, #m.calls)
  end)
end)

describe("lira.testing mock next to the real transport", function()
  local sb
  setup(function() sb = sandbox.start() end)
  teardown(function() if sb then sb:stop() end end)

  it("leaves other clients on the real network, and restore() gives it back", function()
    t.reset()
    local mocked = lira.client { name = "mocked", base_url = sb.url .. "/anything/mocked", retry = false }
    local real = lira.client { name = "real", base_url = sb.url, retry = false }
    local m = t.mock(mocked, { ["GET /x"] = { status = 299, body = "scripted" } })
    assert.are.equal("scripted", mocked:get("/x").body)
    local echo = assert(real:get("/anything/real")):json()
    assert.are.equal("/anything/real", echo.path)
    m:restore()
    assert.are.equal("/anything/mocked/x", assert(mocked:get("/x")):json().path)
    assert.are.equal(1, #m.calls)
  end)
end)
