-- require "lira": what it exports, lira.client's options (every option,
-- typos, ranges, the messages), the defaults table and the docs written
-- from it, normalization, the tls.insecure warning, the standalone
-- breaker/limiter options, and fallback (§5) against the real sandbox.
package.path = "tests/lua/?.lua;" .. package.path

local lira = require "lira"
local client = require "lira.client"

local function base(extra)
  local o = { name = "shop", base_url = "http://127.0.0.1:1" }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function norm(extra)
  return (client._normalize(base(extra)))
end

-- The error lira.client raises for opts (without the position prefix).
local function client_error(opts)
  local ok, err = pcall(lira.client, opts)
  assert.is_false(ok, "lira.client accepted a bad option")
  return (tostring(err):gsub("^[^:]*:%d+: ", ""))
end

describe("require 'lira'", function()
  it("exports the public API", function()
    for _, name in ipairs { "client", "config", "breaker", "limiter", "spawn", "sleep", "now",
                            "run" } do
      assert.is_function(lira[name], name)
    end
    assert.is_string(lira.version)
    assert.is_not_nil(lira.null)
    assert.is_function(lira.array)
    assert.is_not_nil(lira.loop)
    assert.is_function(lira.json.encode)
    assert.is_function(lira.json.decode)
    for _, name in ipairs { "bearer", "basic", "header", "oauth2" } do
      assert.is_function(lira.auth[name], name)
    end
    assert.is_function(lira.fallback.stale)
  end)

  it("json round-trips through the re-exports", function()
    local doc = lira.json.decode(lira.json.encode { a = 1, b = lira.array {} })
    assert.equals(1, doc.a)
    assert.equals("[]", lira.json.encode(lira.array {}))
  end)
end)

describe("lira.client options", function()
  -- { options to add, the error expected }: every option, its type, its
  -- range, and typos at each level.
  local cases = {
    { { name = false }, "option name must be a string of letters, digits and _ . : - (at most 128)" },
    { { name = "two words" }, "option name must be a string of letters" },
    { { name = ("x"):rep(129) }, "option name must be" },
    { { base_url = 42 }, "option base_url must be an http:// or https:// URL" },
    { { base_url = "ftp://x" }, "option base_url must be an http:// or https:// URL with a host" },
    { { base_url = "http://" }, "option base_url must be an http:// or https:// URL with a host" },
    { { base_url = "http://x/a b" }, "option base_url must not contain spaces" },
    { { base_url = "http://x/?a=1" }, "option base_url must not have a query" },
    { { version = "v1" }, "option version must be a table or false" },
    { { version = { path = "v1" } }, "option version.path must be a path starting with '/'" },
    { { version = { header = "Bad Name", value = "1" } }, "option version.header must be a header name" },
    { { version = { header = "V", value = "a\r\nb" } }, "option version.value must be a string without CR/LF" },
    { { version = { header = "V" } }, "option version needs both header and value" },
    { { version = { header = "V", value = "1", path = "/v1" } }, "option version takes either" },
    { { version = { pth = "/v1" } }, "unknown option version.pth" },
    { { headers = "x" }, "option headers must be a table of header names to strings" },
    { { headers = { ["Bad Name"] = "x" } }, "option headers has an invalid header name \"Bad Name\"" },
    { { headers = { X = "a\nb" } }, "option headers has an invalid value for X" },
    { { headers = { X = true } }, "option headers has an invalid value for X" },
    { { user_agent = "" }, "option user_agent must be a non-empty string" },
    { { user_agent = "a\nb" }, "option user_agent must be a non-empty string" },
    { { auth = "Bearer x" }, "option auth must be a lira.auth value" },
    { { timeout = 5 }, "option timeout must be a table" },
    { { timeout = { connect = 0 } }, "option timeout.connect must be a positive number" },
    { { timeout = { read = -1 } }, "option timeout.read must be a positive number" },
    { { timeout = { read = "10" } }, "option timeout.read must be a positive number" },
    { { timeout = { read = 0 / 0 } }, "option timeout.read must be a positive number" },
    { { timeout = { read = math.huge } }, "option timeout.read must be a positive number" },
    { { timeout = { deadline = true } }, "option timeout.deadline must be a positive number or false" },
    { { timeout = { reed = 1 } }, "unknown option timeout.reed" },
    { { retry = true }, "option retry must be a table or false" },
    { { retry = { atempts = 3 } }, "unknown option retry.atempts" },
    { { retry = { attempts = 0 } }, "option retry.attempts must be an integer from 1 to 1000" },
    { { retry = { attempts = 2.5 } }, "option retry.attempts must be an integer from 1 to 1000" },
    { { retry = { attempts = 1001 } }, "option retry.attempts must be an integer from 1 to 1000" },
    { { retry = { base = 0 } }, "option retry.base must be a number in (0, 86400]" },
    { { retry = { cap = 100000 } }, "option retry.cap must be a number in (0, 86400]" },
    { { retry = { base = 2, cap = 1 } }, "option retry.cap must be >= retry.base" },
    { { retry = { jitter = "half" } }, "option retry.jitter must be one of \"full\", \"none\" or \"decorrelated\"" },
    { { retry = { max_elapsed = 0 } }, "option retry.max_elapsed must be a positive number or false" },
    { { retry = { on = true } }, "option retry.on must be a function" },
    { { retry = { budget = 1 } }, "option retry.budget must be a table or false" },
    { { retry = { budget = { ratio = -0.1 } } }, "option retry.budget.ratio must be a number from 0 to 1000" },
    { { retry = { budget = { min_per_second = 1.5 } } }, "option retry.budget.min_per_second must be an integer from 0 to 1000000" },
    { { retry = { budget = { ration = 1 } } }, "unknown option retry.budget.ration" },
    { { breaker = true }, "option breaker must be a table or false" },
    { { breaker = { window = 0 } }, "option breaker.window must be a number from 1 to 3600" },
    { { breaker = { window = 3601 } }, "option breaker.window must be a number from 1 to 3600" },
    { { breaker = { failure_rate = 0 } }, "option breaker.failure_rate must be a number in (0, 1]" },
    { { breaker = { failure_rate = 1.5 } }, "option breaker.failure_rate must be a number in (0, 1]" },
    { { breaker = { min_calls = 0 } }, "option breaker.min_calls must be an integer from 1 to" },
    { { breaker = { cooldown = 0 } }, "option breaker.cooldown must be a number in (0, 86400]" },
    { { breaker = { half_open = 0 } }, "option breaker.half_open must be an integer from 1 to 1000000" },
    { { breaker = { slow_call = 5 } }, "option breaker.slow_call must be a table or false" },
    { { breaker = { slow_call = { threshold = 0 } } }, "option breaker.slow_call.threshold must be a positive number" },
    { { breaker = { slow_call = { rate = 2 } } }, "option breaker.slow_call.rate must be a number in (0, 1]" },
    { { breaker = { failure = "x" } }, "option breaker.failure must be a function" },
    { { breaker = { cooldwon = 1 } }, "unknown option breaker.cooldwon" },
    { { limit = true }, "option limit must be a table or false" },
    { { limit = { rate = 0 } }, "option limit.rate must be a positive number or false" },
    { { limit = { rate = true } }, "option limit.rate must be a positive number or false" },
    { { limit = { per = 0 } }, "option limit.per must be a positive number" },
    { { limit = { burst = 0 } }, "option limit.burst must be an integer from 1 to" },
    { { limit = { target = 0 } }, "option limit.target must be a number in (0, 1]" },
    { { limit = { headers = "yes" } }, "option limit.headers must be a boolean" },
    { { limit = { rates = 1 } }, "unknown option limit.rates" },
    { { redirects = -1 }, "option redirects must be an integer from 0 to 100" },
    { { redirects = 101 }, "option redirects must be an integer from 0 to 100" },
    { { max_body = 0 }, "option max_body must be an integer from 1 to" },
    { { tls = true }, "option tls must be a table" },
    { { tls = { insecure = "yes" } }, "option tls.insecure must be a boolean" },
    { { tls = { ca_file = "/nonexistent/ca.pem" } }, "option tls.ca_file cannot be opened: /nonexistent/ca.pem" },
    { { tls = { verify = false } }, "unknown option tls.verify" },
    { { idempotency_header = "Idem Key" }, "option idempotency_header must be a header name" },
    { { fallback = "cached" }, "option fallback must be a function(req, err) or false" },
    { { retries = 3 }, "unknown option retries" },
    { { [1] = "x" }, "unknown option 1" },
  }

  for _, c in ipairs(cases) do
    local opts, want = c[1], c[2]
    it("rejects " .. want, function()
      local msg = client_error(base(opts))
      assert.equals(1, select(2, msg:gsub("^lira%.client: ", "")), msg)
      assert.truthy(msg:find(want, 1, true), ("want %q in %q"):format(want, msg))
    end)
  end

  it("requires name and base_url and a table", function()
    assert.equals("lira.client: option name is required",
                  client_error { base_url = "http://x" })
    assert.equals("lira.client: option base_url is required", client_error { name = "x" })
    assert.equals("lira.client: options must be a table", client_error("shop"))
  end)

  it("raises at the caller's line", function()
    local ok, err = pcall(function() lira.client { name = "x" } end)
    assert.is_false(ok)
    assert.matches("^[^:]*lira_spec%.lua:%d+: lira%.client: option base_url is required$", err)
  end)

  it("never echoes a base_url, which may hold credentials", function()
    local msg = client_error(base { base_url = "ftp://user:s3cret@host" })
    assert.is_nil(msg:find("s3cret", 1, true))
  end)

  it("takes lira.fallback.stale (tests/lua/state_stale_spec.lua), checking its ttl", function()
    local cfg, _, fb = client._normalize(base { fallback = lira.fallback.stale(60) })
    assert.is_table(cfg)
    assert.is_true(lira.fallback.is_stale(fb))
    assert.has_error(function() lira.fallback.stale(0) end,
      "bad argument #1 to 'lira.fallback.stale' (ttl must be a positive number of seconds, got 0)")
  end)
end)

describe("lira.client defaults and normalization", function()
  it("fills the seed guide's defaults", function()
    local cfg = norm()
    assert.same({ connect = 2, read = 10, deadline = 30 }, cfg.timeout)
    assert.same({ attempts = 4, base = 0.2, cap = 30, jitter = "full", max_elapsed = false },
                cfg.retry)
    assert.same({ ratio = 0.1, min_per_second = 10 }, cfg.budget)
    assert.same({ window = 30, failure_rate = 0.5, min_calls = 20, cooldown = 15, half_open = 3,
                  slow_call = false }, cfg.breaker)
    assert.same({ rate = false, per = 1, burst = 10, target = 0.8, headers = true }, cfg.limit)
    assert.equals(5, cfg.redirects)
    assert.equals(10 * 1024 * 1024, cfg.max_body)
    assert.equals("lira/" .. lira.version, cfg.user_agent)
    assert.same({ insecure = false }, cfg.tls)
    assert.equals("Idempotency-Key", cfg.idempotency_header)
    assert.is_false(cfg.version)
    assert.same({}, cfg.headers)
  end)

  it("exposes one defaults table that matches what is filled", function()
    local d = client.defaults
    assert.same(norm().timeout, d.timeout)
    assert.same(norm().breaker, d.breaker)
    assert.same(norm().limit, d.limit)
    assert.equals(d.retry.budget.ratio, norm().budget.ratio)
    assert.is_nil(d.name)
    assert.is_nil(d.base_url)
  end)

  it("keeps given values and fills the rest of a table", function()
    local cfg = norm { timeout = { read = 1.5 }, retry = { attempts = 2 },
                       breaker = { min_calls = 5 }, limit = { rate = 100, per = 60 } }
    assert.same({ connect = 2, read = 1.5, deadline = 30 }, cfg.timeout)
    assert.equals(2, cfg.retry.attempts)
    assert.equals(0.2, cfg.retry.base)
    assert.equals(5, cfg.breaker.min_calls)
    assert.same({ rate = 100, per = 60, burst = 10, target = 0.8, headers = true }, cfg.limit)
  end)

  it("normalizes base_url, version and the off switches", function()
    assert.equals("http://h:1/api", norm { base_url = "http://h:1/api//" }.base_url)
    assert.same({ path = "/v1" }, norm { version = { path = "/v1/" } }.version)
    assert.same({ header = "Shop-Version", value = "2024-06-01" },
                norm { version = { header = "Shop-Version", value = "2024-06-01" } }.version)
    local off = norm { retry = false, breaker = false, limit = false, version = false }
    assert.is_false(off.retry)
    assert.is_false(off.budget)
    assert.is_false(off.breaker)
    assert.is_false(off.limit)
    assert.is_false(norm { retry = { budget = false } }.budget)
    assert.is_false(norm { limit = { headers = false } }.limit)
    assert.is_false(norm { timeout = { deadline = false } }.timeout.deadline)
    assert.same({ threshold = 5, rate = 0.8 }, norm { breaker = { slow_call = {} } }.breaker.slow_call)
    assert.same({ ["X-N"] = "5" }, norm { headers = { ["X-N"] = 5 } }.headers)
  end)

  it("moves retry.budget out of retry and keeps retry.on", function()
    local on = function() end
    local cfg = norm { retry = { on = on, budget = { ratio = 0.5 } } }
    assert.is_nil(cfg.retry.budget)
    assert.equals(on, cfg.retry.on)
    assert.same({ ratio = 0.5, min_per_second = 10 }, cfg.budget)
  end)

  it("hands auth and fallback back separately, not to C", function()
    local a, fb = lira.auth.bearer("t"), function() end
    local cfg, ga, gfb = client._normalize(base { auth = a, fallback = fb })
    assert.equals(a, ga)
    assert.equals(fb, gfb)
    assert.is_nil(cfg.auth)
    assert.is_nil(cfg.fallback)
  end)

  it("does not modify the caller's table", function()
    local opts = base { retry = { attempts = 2, budget = { ratio = 1 } } }
    client._normalize(opts)
    assert.same({ attempts = 2, budget = { ratio = 1 } }, opts.retry)
  end)

  it("builds a client whose objects work", function()
    local c = lira.client(base { name = "spec-objects" })
    assert.equals("spec-objects", c.name)
    assert.equals("closed", c.breaker:state())
    assert.matches("spec%-objects", tostring(c))
  end)
end)

describe("docs/lua-api.md", function()
  local f = assert(io.open("docs/lua-api.md"))
  local doc = f:read("a")
  f:close()
  for _, which in ipairs { "client", "breaker", "limiter" } do
    it("lists every " .. which .. " option with its default, as the schema says", function()
      for _, r in ipairs(client.option_rows(which)) do
        local row = ("| `%s` | %s | %s | %s |"):format(r.path, r.default, r.what, r.doc or "")
        assert.truthy(doc:find(row, 1, true), "docs/lua-api.md lacks the row: " .. row)
      end
    end)
  end
end)

describe("docs/lua-api.md examples", function()
  local sb
  setup(function() sb = require("helpers.sandbox").start { "--seed", "7" } end)
  teardown(function() if sb then sb:stop() end end)

  local f = assert(io.open("docs/lua-api.md"))
  local doc = f:read("a")
  f:close()
  local n = 0
  for code in doc:gmatch("<!%-%- example %-%->\n```lua\n(.-)\n```") do
    n = n + 1
    local first = code:match("[^\n]*\n[^\n]*\n([^\n]*)") or code
    it(("example %d runs (%s)"):format(n, first), function()
      local file = os.tmpname()
      local w = assert(io.open(file, "w"))
      w:write(code)
      w:close()
      local p = io.popen(("SANDBOX_URL=%q lua5.4 %q 2>&1"):format(sb.url, file))
      local out = p:read("a")
      local ok = p:close()
      os.remove(file)
      assert.is_true(ok, out)
    end)
  end
  it("has examples", function() assert.is_true(n >= 6) end)
end)

describe("tls.insecure", function()
  local function stderr_of(code)
    local err = os.tmpname()
    local cmd = ("lua5.4 -e %q 2>%q"):format(code, err)
    assert.is_true(os.execute(cmd))
    local f = assert(io.open(err))
    local text = f:read("a")
    f:close()
    os.remove(err)
    return text
  end

  it("warns on stderr, once per client", function()
    local text = stderr_of([[
      local lira = require "lira"
      lira.client { name = "insecure-a", base_url = "https://x", tls = { insecure = true } }
      lira.client { name = "insecure-b", base_url = "https://x", tls = { insecure = true } }
      lira.client { name = "secure-c", base_url = "https://x" }
    ]])
    local _, a = text:gsub("WARNING: client 'insecure%-a' has tls%.insecure = true", "")
    local _, b = text:gsub("WARNING: client 'insecure%-b' has tls%.insecure = true", "")
    assert.equals(1, a, text)
    assert.equals(1, b, text)
    assert.is_nil(text:find("secure-c", 1, true))
  end)
end)

describe("lira.breaker and lira.limiter", function()
  it("validate like the client's and build standalone objects", function()
    local b = lira.breaker { min_calls = 2, cooldown = 1 }
    assert.equals("closed", b:state())
    local l = lira.limiter { rate = 5, per = 1, burst = 2 }
    assert.is_number(l:available())
    local function msg(f, o)
      local ok, e = pcall(f, o)
      assert.is_false(ok)
      return (tostring(e):gsub("^[^:]*:%d+: ", ""))
    end
    assert.equals("lira.breaker: unknown option windw", msg(lira.breaker, { windw = 3 }))
    assert.equals("lira.breaker: option failure_rate must be a number in (0, 1]",
                  msg(lira.breaker, { failure_rate = 2 }))
    assert.equals("lira.limiter: option rate is required", msg(lira.limiter, {}))
    assert.equals("lira.limiter: option burst must be an integer from 1 to 4294967295",
                  msg(lira.limiter, { rate = 1, burst = 0 }))
    assert.equals("lira.limiter: unknown option headers",
                  msg(lira.limiter, { rate = 1, headers = true }))
  end)
end)

describe("client calls", function()
  local sb
  setup(function() sb = require("helpers.sandbox").start { "--seed", "7" } end)
  teardown(function() if sb then sb:stop() end end)

  it("get/post/put/patch/delete/head and request{} reach the server", function()
    local c = lira.client { name = "spec-methods", base_url = sb.url }
    local since = sb:reset()
    for _, m in ipairs { "get", "post", "put", "patch", "delete", "head" } do
      local res = assert(c[m](c, "/anything/{x}", { params = { x = m } }))
      assert.equals(200, res.status)
    end
    local res = assert(c:request { method = "options", path = "/anything/req",
                                   query = { a = 1 } })
    assert.equals(200, res.status)
    local seen = {}
    for _, e in ipairs(sb:log_since(since, "/anything")) do seen[#seen + 1] = e.method .. " " .. e.path end
    assert.same({ "GET /anything/get", "POST /anything/post", "PUT /anything/put",
                  "PATCH /anything/patch", "DELETE /anything/delete", "HEAD /anything/head",
                  "OPTIONS /anything/req" }, seen)
  end)

  it("gives a client without auth or fallback direct methods that act as the shared ones", function()
    local a = lira.client { name = "spec-direct-a", base_url = sb.url .. "/anything/a" }
    local b = lira.client { name = "spec-direct-b", base_url = sb.url .. "/anything/b" }
    local fb = lira.client { name = "spec-direct-fb", base_url = sb.url,
                             fallback = function() return "fell back" end }
    assert.is_function(rawget(a, "get"))                  -- its own, straight to C
    assert.is_nil(rawget(fb, "get"))                       -- the shared one: it has work to do
    local since = sb:reset()
    assert.equals(200, assert(a:get("/x")).status)                          -- direct
    assert.equals(200, assert(a:post("/y", { json = { n = 1 } })).status)  -- options: full way
    assert.equals(200, assert(a.delete(b, "/z")).status)   -- another client: acts for b
    local seen = {}
    for _, e in ipairs(sb:log_since(since, "/anything")) do seen[#seen + 1] = e.method .. " " .. e.path end
    assert.same({ "GET /anything/a/x", "POST /anything/a/y", "DELETE /anything/b/z" }, seen)
    assert.has_error(function() a.get({}, "/x") end,
      "bad argument #1 to 'get' (lira client expected, got table; call it as client:get(...))")
    assert.has_error(function() a:get(nil) end, "bad argument #2 to 'get' (path must be a string)")
  end)

  it("raises a clear error on misuse", function()
    local c = lira.client { name = "spec-misuse", base_url = sb.url }
    assert.has_error(function() c.get("/x") end,
      "bad argument #1 to 'get' (lira client expected, got string; call it as client:get(...))")
    assert.has_error(function() c:request("GET") end,
      "bad argument #1 to 'request' (table expected, got string)")
    assert.has_error(function() c:request { path = "/x" } end,
      "bad argument #1 to 'request' (method must be a string like \"GET\")")
  end)
end)

describe("fallback", function()
  local sb
  setup(function() sb = require("helpers.sandbox").start { "--seed", "7" } end)
  teardown(function() if sb then sb:stop() end end)

  local function make(name, fb, extra)
    local o = { name = name, base_url = sb.url, fallback = fb,
                retry = { attempts = 2, base = 0.01, cap = 0.01 } }
    for k, v in pairs(extra or {}) do o[k] = v end
    return lira.client(o)
  end

  it("is called on breaker_open, and nothing is sent", function()
    local got
    local c = make("fb-breaker", function(req, err)
      got = { req = req, err = err }
      return "from fallback"
    end)
    c.breaker:force_open()
    local since = sb:reset()
    local v = c:get("/anything/{id}", { params = { id = 7 } })
    assert.equals("from fallback", v)
    assert.equals("breaker_open", got.err.kind)
    assert.equals("GET", got.req.method)
    assert.equals("/anything/{id}", got.req.path)
    assert.same({ id = 7 }, got.req.params)
    assert.equals("fb-breaker", got.req.client)
    assert.same({}, sb:log_since(since, "/anything"))
  end)

  it("is called on a final 503 (after the retries) and its res-like table is returned", function()
    local got
    local c = make("fb-503", function(req, err)
      got = err
      return { status = 200, ok = true, body = "cached", stale = true }
    end)
    local since = sb:reset()
    local res, err = c:get("/status/503")
    assert.is_nil(err)
    assert.same({ status = 200, ok = true, body = "cached", stale = true }, res)
    assert.equals("status", got.kind)
    assert.equals(503, got.status)
    assert.equals(503, got.response.status)
    assert.equals(2, got.attempts)
    assert.matches("^status: HTTP 503", tostring(got))
    assert.equals(2, #sb:log_since(since, "/status"))
  end)

  it("is called on a final 429", function()
    local c = make("fb-429", function(_, err) return err.status end, { retry = false })
    assert.equals(429, c:get("/status/429"))
  end)

  it("is not called on a 404 or a 200", function()
    local called = 0
    local c = make("fb-404", function() called = called + 1 end)
    assert.equals(404, c:get("/status/404").status)
    assert.equals(200, c:get("/status/200").status)
    assert.equals(0, called)
  end)

  it("returning nothing keeps the original outcome; nil, err passes an error on", function()
    local c = make("fb-none", function() end, { retry = false })
    assert.equals(503, c:get("/status/503").status)
    local c2 = make("fb-err", function(_, err) return nil, err end, { retry = false })
    local res, err = c2:get("/status/502")
    assert.is_nil(res)
    assert.equals("status", err.kind)
    assert.equals(502, err.status)
  end)

  it("is called on a transport error", function()
    local c = lira.client { name = "fb-connect", base_url = "http://127.0.0.1:1", retry = false,
                            fallback = function(_, err) return "down: " .. err.kind end }
    assert.equals("down: connect", c:get("/x"))
  end)
end)
