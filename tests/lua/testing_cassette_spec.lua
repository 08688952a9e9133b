-- t.cassette: record real interactions with a sandbox, replay them offline;
-- the secrets never reach the file.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

local lira = require "lira"
local t = require "lira.testing"
local sandbox = require "helpers.sandbox"

local TOKEN = "sk_live_TOPSECRET_4711"
local API_KEY = "key_QUERYSECRET_99"
local CARD = "4242424242424242"
local PASSWORD = "hunter2-hunter2"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function new_client(url)
  return lira.client { name = "shop", base_url = url, auth = lira.auth.bearer(TOKEN),
                       headers = { ["X-Api-Key"] = API_KEY },
                       retry = { attempts = 3, base = 0.01, jitter = "none" } }
end

-- The same calls, recorded or replayed.
local function exercise(api)
  local out = {}
  local r1 = assert(api:get("/anything/orders/7", { query = { expand = "items", api_key = API_KEY },
                                                    headers = {} }))
  out[1] = r1:json().path
  local r2 = assert(api:post("/anything/pay", { headers = {},
    json = { card = { number = CARD, cvc = "123" }, amount = 5, password = PASSWORD } }))
  out[2] = r2:json().json.amount
  local r3 = assert(api:get("/flaky/cassette-1", { query = { fail = 2 }, headers = {} }))
  out[3] = r3:json().attempt
  return out
end

describe("lira.testing cassette", function()
  local sb, path
  setup(function()
    -- The sandbox helper's own client lives on this engine: reset before it.
    t.reset()
    sb = sandbox.start()
    path = os.tmpname()
  end)
  teardown(function()
    if sb then sb:stop() end
    os.remove(path)
  end)

  it("records against a sandbox, redacts, and replays offline", function()
    sb:reset()
    local api = new_client(sb.url)
    local cas = t.cassette(path, "record", { client = api, redact = { "number", "cvc" } })
    local live = exercise(api)
    assert.are.same({ "/anything/orders/7", 5, 3 }, live)
    cas:eject()

    local text = read(path)
    for _, secret in ipairs { TOKEN, API_KEY, CARD, PASSWORD, "123\"" } do
      assert.is_nil(text:find(secret, 1, true), "secret in the cassette: " .. secret)
    end
    assert.matches('"Authorization": "REDACTED"', text, 1, true)
    assert.matches('"X-Api-Key": "REDACTED"', text, 1, true)
    assert.matches("api_key=REDACTED", text, 1, true)
    -- readable: indented, sorted keys, JSON bodies decoded; 2 failures + 1 success of /flaky
    assert.matches('\n  "interactions": [\n', text, 1, true)
    local doc = lira.json.decode(text)
    assert.are.equal(5, #doc.interactions)
    assert.are.same({ 503, 503, 200 }, { doc.interactions[3].response.status,
      doc.interactions[4].response.status, doc.interactions[5].response.status })
    assert.are.equal("/anything/pay", doc.interactions[2].request.path)
    assert.are.equal("REDACTED", doc.interactions[2].request.json.card.number)
    assert.are.equal(text, require("lira.testing_cassette").pretty(doc) .. "\n")   -- stable

    -- Replay with the sandbox gone: the same answers, from the file.
    sb:stop()
    sb = nil
    t.reset{ clock = true }
    local replayed = t.cassette(path, "replay", { client = "http://127.0.0.1:1" })
    local offline = new_client("http://127.0.0.1:1")
    assert.are.same(live, exercise(offline))
    replayed:assert_all_matched()
    assert.are.equal(5, #replayed.mock.calls)
    -- the retries of /flaky were replayed with the real backoff, in simulated time
    local calls = replayed.mock.calls
    assert.is_true(calls[4].at > calls[3].at)

    -- A request the cassette does not have fails, readably.
    local res, err = offline:get("/anything/other", { headers = {} })
    assert.is_nil(res)
    assert.matches("cassette " .. path .. "' has no route for GET /anything/other; routes: GET /anything/orders/7?",
                   err.message, 1, true)
    local ok, why = pcall(replayed.assert_all_matched, replayed)
    assert.is_false(ok)
    assert.matches("has no interaction for:\n  GET /anything/other", why, 1, true)
    replayed:eject()
  end)

  it("takes its mode from LIRA_CASSETTE and says how to record a missing one", function()
    t.reset()
    local ok, err = pcall(t.cassette, path .. ".missing")
    assert.is_false(ok)
    assert.matches("not found: record it once with LIRA_CASSETTE=record", err, 1, true)
    assert.has_error(function() t.cassette(path, "rewind") end)
    assert.has_error(function() t.cassette(path, "replay", { clinet = "x" }) end)
  end)
end)
