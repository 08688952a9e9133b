-- lira.fallback.stale(ttl) against a real sandbox: the last 2xx of the same
-- GET is served from the store when the breaker is open, on a 5xx/429 and
-- on a dropped connection, while younger than ttl; never for POST, never
-- past ttl. The sandbox's log shows what was really sent.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

local lira = require "lira"
local core = require "lira.core"
local fallback = require "lira.fallback"
local sandbox = require "helpers.sandbox"
local H = require "helpers.state"

local SCENARIO = [[
{ "routes": [
  { "path": "/catalog", "method": "GET", "then": "cycle", "responses": [
    { "status": 200, "headers": { "X-Catalog-Version": "7" },
      "body": { "items": [ { "id": 1 }, { "id": 2 } ] } },
    { "status": 503 },
    { "status": 429, "headers": { "Retry-After": "1" } } ] }
] }
]]

local sb, dir
local seq = 0

setup(function()
  dir = H.tmpdir()
  H.write(dir .. "/scenario.json", SCENARIO)
  sb = sandbox.start { "--scenario", dir .. "/scenario.json" }
  core.store_open(dir .. "/state.db")
end)
teardown(function()
  if sb then sb:stop() end
  core.store_close()
  H.rmdir(dir)
end)
before_each(function() sb:reset() end)

local function client(ttl, over)
  seq = seq + 1
  local opts = { name = "stale-" .. seq, base_url = sb.url, retry = false,
                 fallback = lira.fallback.stale(ttl) }
  for k, v in pairs(over or {}) do opts[k] = v end
  return lira.client(opts)
end

local function sent()
  local n = 0
  for _, e in ipairs(sb:log()) do
    if e.path ~= "/_log" then n = n + 1 end
  end
  return n
end

describe("lira.fallback.stale", function()
  it("serves the last 2xx of the same GET while the breaker is open", function()
    local api = client(60)
    local live = assert(api:get("/anything/items", { query = { page = 2, expand = "all" } }))
    assert.equals(200, live.status)
    assert.is_nil(live.stale)
    assert.equals(1, sent())
    api.breaker:force_open()
    local res, err = api:get("/anything/items", { query = { expand = "all", page = 2 } })
    assert.is_nil(err)
    assert.is_true(res.stale)
    assert.equals(200, res.status)
    assert.is_true(res.ok)
    assert.equals(live.body, res.body)
    assert.same(live:json(), res:json())
    assert.equals(live.headers["content-type"], res.headers["Content-Type"])
    assert.is_true(res.age >= 0 and res.age < 5)
    assert.equals("breaker_open", res.error.kind)
    assert.equals(live.url, res.url)
    assert.equals(0, sent())                              -- nothing went out
    -- another URL (another query) has nothing cached: the original error
    res, err = api:get("/anything/items", { query = { page = 3, expand = "all" } })
    assert.is_nil(res)
    assert.equals("breaker_open", err.kind)
  end)

  it("serves it on a final 503 and 429, from the store", function()
    local api = client(60)
    local live = assert(api:get("/catalog"))
    assert.equals(200, live.status)
    for _, why in ipairs { 503, 429 } do
      local res, err = api:get("/catalog")
      assert.is_nil(err, why)
      assert.is_true(res.stale, why)
      assert.equals(200, res.status)
      assert.equals("7", res.headers["x-catalog-version"])
      assert.same({ { id = 1 }, { id = 2 } }, res:json().items)
      assert.equals(why, res.response.status)
      assert.is_nil(res.error)
    end
    assert.equals(3, sent())
    -- the row in the file: client, method and the URL lira.client requested
    local rows = H.sqlite(dir .. "/state.db",
      "SELECT client || ' ' || method || ' ' || url || ' ' || status FROM response_cache " ..
      "WHERE client = '" .. api.name .. "';")
    assert.equals(("%s GET %s/catalog 200\n"):format(api.name, sb.url), rows)
  end)

  it("serves it when the upstream cannot be reached at all", function()
    -- nothing listens on port 1: a connect error, with no server to script
    local api = client(60, { base_url = "http://127.0.0.1:1" })
    local url = fallback.cache_url(api, "/orders", { query = { status = "open" } })
    assert.equals("http://127.0.0.1:1/orders?status=open", url)
    core.cache_put(api.name, "GET", url, 200, '{"content-type":"application/json"}', '{"n":3}')
    local res, err = api:get("/orders", { query = { status = "open" } })
    assert.is_nil(err)
    assert.is_true(res.stale)
    assert.equals(3, res:json().n)
    assert.equals("connect", res.error.kind)
    res, err = api:get("/orders")                        -- not cached: the error itself
    assert.is_nil(res)
    assert.equals("connect", err.kind)
  end)

  it("survives the process: a new connection (a restart) serves what was kept", function()
    local api = client(60)
    assert(api:get("/anything/kept"))
    core.store_open(dir .. "/state.db")                  -- close and reopen the file
    api.breaker:force_open()
    local res = assert(api:get("/anything/kept"))
    assert.is_true(res.stale)
  end)

  it("does not serve a response older than ttl", function()
    local api = client(0.05)
    assert(api:get("/anything/old"))
    lira.sleep(0.08)
    api.breaker:force_open()
    local res, err = api:get("/anything/old")
    assert.is_nil(res)
    assert.equals("breaker_open", err.kind)
    -- and a 5xx stays the 5xx response
    api.breaker:reset()
    local r5 = assert(api:get("/catalog"))
    lira.sleep(0.08)
    r5 = assert(api:get("/catalog"))
    assert.equals(503, r5.status)
    assert.is_nil(r5.stale)
  end)

  it("is only for GET: POSTs are neither kept nor served", function()
    local api = client(60)
    assert.equals(200, assert(api:post("/anything/p", { json = { a = 1 } })).status)
    assert.equals(0, (core.cache_usage(api.name)))
    api.breaker:force_open()
    local res, err = api:post("/anything/p", { json = { a = 1 } })
    assert.is_nil(res)
    assert.equals("breaker_open", err.kind)
    api.breaker:reset()
    res = assert(api:post("/status/503"))
    assert.equals(503, res.status)
    assert.is_nil(res.stale)
  end)

  it("keeps only 2xx: a 404 is an answer, neither kept nor replaced by the cache", function()
    local api = client(60)
    assert(api:get("/status/200"))
    local r = assert(api:get("/status/404"))
    assert.equals(404, r.status)
    assert.is_nil(r.stale)
    assert.equals(1, (core.cache_usage(api.name)))
  end)

  it("keys by the URL exactly as lira.client builds it", function()
    local api = client(60)
    local opts = { params = { id = "a b/ü" }, query = { z = { 1, 2 }, a = true, f = 1.5 } }
    local res = assert(api:get("/anything/{id}", opts))
    assert.equals(res.url, fallback.cache_url(api, "/anything/{id}", opts))
    res = assert(api:get("/anything/x?fixed=1", { query = { more = "y" } }))
    assert.equals(res.url, fallback.cache_url(api, "/anything/x?fixed=1", { query = { more = "y" } }))
  end)

  it("stays within the cache caps: a response over the byte cap is not kept", function()
    core.store_open(dir .. "/state.db", { cache_max_bytes = 4096, cache_max_rows = 2 })
    local api = client(60)
    assert.equals(200, assert(api:get("/bytes/10000")).status)
    assert.equals(0, (core.cache_usage(api.name)))
    for i = 1, 3 do assert(api:get("/anything/" .. i)) end
    assert.equals(2, (core.cache_usage(api.name)))      -- the oldest was evicted
    api.breaker:force_open()
    assert.is_nil((api:get("/anything/1")))
    assert.is_true(assert(api:get("/anything/3")).stale)
    core.store_open(dir .. "/state.db")
  end)
end)
