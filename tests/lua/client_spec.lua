-- The C client binding (lira.core.client_new, cclient:request) against a real
-- `lira sandbox`: what the server's /_log saw is the evidence, not only what
-- the client reports. Synchronous calls from the main thread (they drive the
-- loop); concurrency is in client_concurrency_spec.lua.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

local core = require "lira.core"
local sandbox = require "helpers.sandbox"
local H = sandbox.header

local sb
local seq = 0

-- A client with a unique name (upstream state is keyed by name) and fast
-- retries; `over` overrides fields of the normalized config.
local function client(over)
  seq = seq + 1
  local cfg = {
    name = "spec-" .. seq, base_url = sb.url,
    retry = { attempts = 4, base = 0.05, cap = 0.2, jitter = "full", max_elapsed = false },
    breaker = false, limit = false,
  }
  for k, v in pairs(over or {}) do cfg[k] = v end
  return core.client_new(cfg)
end

local function gaps(entries)
  local out = {}
  for i = 2, #entries do
    out[#out + 1] = (entries[i].mono_ns - entries[i - 1].mono_ns) / 1e9
  end
  return out
end

setup(function() sb = sandbox.start { "--seed", "7" } end)
teardown(function() if sb then sb:stop() end end)
before_each(function() sb:reset() end)

describe("request building", function()
  it("fills templates with escaped params and encodes the query, sorted", function()
    local c = client()
    local res = assert(c:request("GET", "/anything/{id}/x", {
      params = { id = "a b/c?d" },
      query = { z = 1, a = { "x", "y z" }, b = true, q = "é&=+", f = 1.5 },
    }))
    assert.equals(200, res.status)
    assert.equals("/anything/{id}/x", res.endpoint)
    local log = sb:log()
    assert.equals(1, #log)
    -- the server decodes the path; the raw query is what went on the wire
    assert.equals("/anything/a b/c?d/x", log[1].path)
    assert.equals("a=x&a=y%20z&b=true&f=1.5&q=%C3%A9%26%3D%2B&z=1", log[1].query)
    assert.matches("/anything/a%%20b%%2Fc%%3Fd/x%?a=x", res.url)
  end)

  it("fills templates next to each other and between literal text", function()
    local c = client()
    assert(c:request("GET", "/anything/{a}-{b}.json/{a}", { params = { a = "x", b = 2 } }))
    assert.equals("/anything/x-2.json/x", sb:log()[1].path)
  end)

  it("appends the query to a path that already has one, and takes integers as integers", function()
    local c = client()
    assert(c:request("GET", "/anything/{n}?fixed=1", { params = { n = 42.0 }, query = { k = 7 } }))
    local log = sb:log()
    assert.equals("/anything/42", log[1].path)
    assert.equals("fixed=1&k=7", log[1].query)
  end)

  it("sends default, version, per-call and generated headers, overriding case-insensitively", function()
    local c = client {
      headers = { ["X-Team"] = "core", Accept = "application/vnd.x+json" },
      user_agent = "spec/1.0",
      version = { header = "Shop-Version", value = "2024-06-01" },
    }
    local res = assert(c:request("GET", "/anything", {
      headers = { ["x-team"] = "edge", ["X-Extra"] = 5 },
    }))
    local e = sb:log()[1]
    assert.equals("edge", H(e, "X-Team"))
    assert.equals("5", H(e, "X-Extra"))
    assert.equals("application/vnd.x+json", H(e, "Accept"))
    assert.equals("spec/1.0", H(e, "User-Agent"))
    assert.equals("2024-06-01", H(e, "Shop-Version"))
    assert.equals(res.request_id, H(e, "X-Request-Id"))
    assert.matches("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$", res.request_id)
    -- exactly one X-Team reached the server (the override replaced, not added)
    local n = 0
    for k in pairs(e.headers) do if k:lower() == "x-team" then n = n + 1 end end
    assert.equals(1, n)
  end)

  it("puts the version path after the base URL and can drop a default header", function()
    local c = client { version = { path = "/v2" }, headers = { ["X-Drop"] = "1" } }
    local res = assert(c:request("GET", "/anything/p", { headers = { ["X-Drop"] = false } }))
    assert.equals(404, res.status)   -- the sandbox has no /v2: the path is the evidence
    local e = sb:log()[1]
    assert.equals("/v2/anything/p", e.path)
    assert.is_nil(H(e, "X-Drop"))
  end)

  it("encodes json bodies with a Content-Type and sends raw bodies as they are", function()
    local c = client()
    local res = assert(c:request("POST", "/anything", { json = { amount = 500, tags = core.array and core.array {} or nil } }))
    local doc = res:json()
    assert.equals(500, doc.json.amount)
    assert.equals("application/json", H(sb:log()[1], "Content-Type"))
    res = assert(c:request("PUT", "/anything", { body = "a=1", headers = { ["Content-Type"] = "text/plain" } }))
    assert.equals("a=1", res:json().body)
    assert.equals("text/plain", H(sb:log()[1], "Content-Type"))
  end)
end)

describe("responses", function()
  it("reads headers case-insensitively and iterates lower-case names", function()
    local c = client()
    local res = assert(c:request("GET", "/headers", { query = { ["X-RateLimit-Remaining"] = "5" } }))
    assert.equals("5", res.headers["x-ratelimit-remaining"])
    assert.equals("5", res.headers["X-RateLimit-Remaining"])
    for k in pairs(res.headers) do assert.equals(k:lower(), k) end
    assert.is_true(res.ok)
    assert.equals(1, res.attempts)
    assert.is_number(res.elapsed)
    assert.equals("GET", res.method)
  end)

  it("decodes JSON once (cached) and raises on a bad body", function()
    local c = client()
    local res = assert(c:request("GET", "/anything"))
    local a = res:json()
    assert.equals("GET", a.method)
    assert.equals(a, res:json())
    local bad = assert(c:request("GET", "/json/invalid"))
    assert.equals(200, bad.status)
    assert.has_error(function() bad:json() end)
    local ok, msg = pcall(bad.json, bad)
    assert.is_false(ok)
    assert.matches("json decode error at byte %d+", msg)
  end)

  it("keeps every field of a response, binary body included, across collections", function()
    local c = client()
    local held = {}
    for i = 1, 40 do
      held[i] = assert(c:request("GET", "/bytes/{n}", { params = { n = 4096 } }))
      collectgarbage("collect")   -- responses and call records of earlier calls die here
    end
    local first = held[1]
    assert.equals(4096, #first.body)
    assert.truthy(first.body:find("\0", 1, true))   -- NUL bytes survive the copy
    local ids = {}
    for i, res in ipairs(held) do
      assert.equals(200, res.status)
      assert.is_true(res.ok)
      assert.equals(first.body, res.body)           -- the same seed: the same bytes
      assert.equals("4096", res.headers["content-length"])
      assert.equals("GET", res.method)
      assert.equals("/bytes/{n}", res.endpoint)
      assert.equals(sb.url .. "/bytes/4096", res.url)
      assert.equals(1, res.attempts)
      assert.equals(0, res.redirects)
      assert.matches("^lira.Response %(200 GET /bytes/{n}%)$", tostring(res))
      assert.is_nil(ids[res.request_id])
      ids[res.request_id] = i
    end
    assert.equals(40, #sb:log())
    for i, e in ipairs(sb:log()) do assert.equals(i, ids[H(e, "x-request-id")]) end
    local ok, msg = pcall(function() first.status = 500 end)
    assert.is_false(ok)
    assert.matches("lira.Response is read-only (field 'status')", msg, 1, true)
    ok, msg = pcall(first.json, {})
    assert.is_false(ok)
    assert.matches("lira.Response expected", msg, 1, true)
  end)

  it("returns any final status as res, and redacts secrets in res.url", function()
    local c = client { retry = false }
    local res = assert(c:request("GET", "/status/418", { query = { token = "s3cret" } }))
    assert.equals(418, res.status)
    assert.is_false(res.ok)
    assert.not_matches("s3cret", res.url)
    assert.matches("token=REDACTED", res.url)
  end)

  it("follows redirects up to the cap", function()
    local c = client { redirects = 5 }
    local res = assert(c:request("GET", "/redirect/3"))
    assert.equals(200, res.status)
    assert.equals(3, res.redirects)
    assert.equals(4, #sb:log())
    local capped = client { redirects = 2, retry = false }
    local r2, err = capped:request("GET", "/redirect/3")
    assert.is_true(r2 == nil or r2.status == 302)
    assert.equals(3, #sb:log())   -- the original plus 2 hops, no more
    if not r2 then assert.is_string(err.kind) end
  end)

  it("fails a body larger than max_body with kind too_large, without retrying", function()
    local c = client { max_body = 1024 }
    local res, err = c:request("GET", "/bytes/4096")
    assert.is_nil(res)
    assert.equals("too_large", err.kind)
    assert.equals(1, err.attempts)
    assert.equals(1, #sb:log())
    assert.truthy(assert(c:request("GET", "/bytes/1000")))
  end)
end)

describe("retry rules (§3.2)", function()
  it("retries 5xx with backoff inside the jitter bounds and one X-Request-Id", function()
    local c = client()
    local res = assert(c:request("GET", "/flaky/a", { query = { fail = 2 } }))
    assert.equals(200, res.status)
    assert.equals(3, res.attempts)
    local log = sb:log()
    assert.equals(3, #log)
    for _, e in ipairs(log) do assert.equals(res.request_id, H(e, "X-Request-Id")) end
    local g = gaps(log)
    -- full jitter: retry 1 in [0.05, 0.1], retry 2 in [0.1, 0.2] (+ slack for I/O)
    assert.is_true(g[1] >= 0.045 and g[1] <= 0.15, "gap 1 " .. g[1])
    assert.is_true(g[2] >= 0.095 and g[2] <= 0.25, "gap 2 " .. g[2])
  end)

  it("uses every attempt then returns the last response", function()
    local c = client { retry = { attempts = 3, base = 0.01, cap = 0.02, jitter = "none" } }
    local res = assert(c:request("GET", "/status/503"))
    assert.equals(503, res.status)
    assert.equals(3, res.attempts)
    assert.equals(3, #sb:log())
  end)

  it("never retries 400 or 404", function()
    local c = client()
    for _, code in ipairs { 400, 404 } do
      local res = assert(c:request("GET", "/status/" .. code))
      assert.equals(code, res.status)
      assert.equals(1, res.attempts)
    end
    assert.equals(2, #sb:log())
  end)

  it("does not retry a POST without a key, and retries one with the same key", function()
    local c = client()
    local res = assert(c:request("POST", "/status/503"))
    assert.equals(1, res.attempts)
    assert.equals(1, #sb:log())
    res = assert(c:request("POST", "/payments", { query = { fail_first = 2 }, json = { amount = 5 },
                                                  idempotency_key = true }))
    assert.equals(201, res.status)
    assert.equals(3, res.attempts)
    local log = sb:log()
    assert.equals(3, #log)
    local key = H(log[1], "Idempotency-Key")
    assert.matches("^%x+%-%x+%-4", key)
    for _, e in ipairs(log) do
      assert.equals(key, H(e, "Idempotency-Key"))
      assert.equals(res.request_id, H(e, "X-Request-Id"))
    end
    local eff = sb:get("/payments/_effects"):json()
    assert.equals(1, eff.total)
  end)

  it("sends a given idempotency key string and honours a custom header name", function()
    local c = client { idempotency_header = "X-Idem" }
    assert(c:request("PATCH", "/anything", { idempotency_key = "k-1" }))
    assert.equals("k-1", H(sb:log()[1], "X-Idem"))
  end)

  it("waits at least Retry-After (seconds) on a 429", function()
    local c = client { retry = { attempts = 2, base = 0.01, cap = 0.02 } }
    local res = assert(c:request("GET", "/status/429", { query = { retry_after = 1 } }))
    assert.equals(2, res.attempts)
    local g = gaps(sb:log())
    assert.is_true(g[1] >= 0.99, "gap " .. g[1])
    assert.is_true(g[1] < 1.5, "gap " .. g[1])
  end)

  it("waits at least Retry-After (HTTP date) on a 429", function()
    local c = client { retry = { attempts = 2, base = 0.01, cap = 0.02 } }
    local res = assert(c:request("GET", "/status/429", { query = { retry_after = "date:+2" } }))
    assert.equals(2, res.attempts)
    local g = gaps(sb:log())
    -- an IMF-fixdate has whole seconds: "+2 s" is 1..2 s away
    assert.is_true(g[1] >= 0.9, "gap " .. g[1])
    assert.is_true(g[1] < 2.6, "gap " .. g[1])
  end)

  it("retry = false and per-call overrides", function()
    local c = client()
    local res = assert(c:request("GET", "/status/500", { retry = false }))
    assert.equals(1, res.attempts)
    res = assert(c:request("GET", "/status/500", { retry = { attempts = 2, base = 0.01, cap = 0.01 } }))
    assert.equals(2, res.attempts)
    assert.equals(3, #sb:log())
  end)

  it("retries a connection reset", function()
    local c = client()
    local res = assert(c:request("GET", "/flaky/r", { query = { status = "reset", fail = 1 } }))
    assert.equals(200, res.status)
    local log = sb:log()
    assert.equals(2, #log)
    -- NOTE: on a reused keep-alive connection libcurl itself re-sends a request
    -- whose connection died before any response byte (then attempts == 1);
    -- the server's log is the evidence that exactly one retry happened.
    assert.is_true(res.attempts == 2 or res.attempts == 1)
  end)

  it("reports a refused connection as kind connect (retryable, even for POST)", function()
    local c = core.client_new { name = "refused-" .. seq, base_url = "http://127.0.0.1:1",
                                retry = { attempts = 2, base = 0.01, cap = 0.01 },
                                breaker = false, limit = false }
    local res, err = c:request("POST", "/x")
    assert.is_nil(res)
    assert.equals("connect", err.kind)
    assert.is_true(err.retryable)
    assert.equals(2, err.attempts)   -- it never left: retried though keyless
  end)

  it("sends a keyless POST once even when its connection is reset", function()
    -- libcurl re-sends a request whose REUSED connection died before any
    -- answer; a keyless POST therefore never rides a pooled connection.
    local c = client { retry = false }
    assert(c:request("GET", "/status/200"))      -- leaves a pooled connection
    assert(c:request("GET", "/status/200"))
    local res, err = c:request("POST", "/flaky/once", { query = { status = "reset", fail = 1 } })
    assert.is_nil(res)
    assert.equals("transport", err.kind)
    local posts = 0
    for _, e in ipairs(sb:log()) do
      if e.method == "POST" then posts = posts + 1 end
    end
    assert.equals(1, posts)
  end)

  it("runs retry.on on each attempt (custom rule) and falls back when it raises", function()
    local seen = {}
    local c = client { retry = { attempts = 3, base = 0.01, cap = 0.02,
      on = function(res, err, attempt)
        seen[#seen + 1] = { status = res and res.status, kind = err and err.kind, attempt = attempt }
        return res ~= nil and res.status == 409
      end } }
    local res = assert(c:request("GET", "/flaky/k", { query = { fail = 1, status = 409 } }))
    assert.equals(200, res.status)
    assert.equals(2, res.attempts)
    assert.same({ status = 409, attempt = 1 }, seen[1])
    local boom = client { retry = { attempts = 3, base = 0.01, cap = 0.02,
      on = function() error("boom") end } }
    res = assert(boom:request("GET", "/flaky/k2", { query = { fail = 1, status = 503 } }))
    assert.equals(2, res.attempts)   -- the built-in rule retried the 503
    -- per-call rule
    res = assert(c:request("GET", "/status/503", { retry = { on = function() return false end } }))
    assert.equals(1, res.attempts)
  end)
end)

describe("timeouts and deadlines", function()
  it("ends an attempt at the read timeout", function()
    local c = client { retry = false, timeout = { connect = 1, read = 0.2, deadline = 5 } }
    local t0 = core.now()
    local res, err = c:request("GET", "/delay/2000")
    local took = core.now() - t0
    assert.is_nil(res)
    assert.equals("timeout", err.kind)
    assert.is_true(took >= 0.19 and took < 0.6, "took " .. took)
  end)

  it("ends the whole call at the deadline, retries included", function()
    local c = client { timeout = { connect = 1, read = 5, deadline = 0.4 } }
    local t0 = core.now()
    local res, err = c:request("GET", "/delay/2000")
    local took = core.now() - t0
    assert.is_nil(res)
    assert.is_true(err.kind == "deadline" or err.kind == "timeout", err.kind)
    assert.is_true(took >= 0.35 and took < 0.9, "took " .. took)
    -- an absolute deadline (lira.now() seconds) wins over timeout.deadline
    t0 = core.now()
    res, err = c:request("GET", "/delay/2000", { deadline = core.now() + 0.25 })
    took = core.now() - t0
    assert.is_nil(res)
    assert.is_true(took < 0.7, "took " .. took)
  end)

  it("cuts a slow body by the read timeout", function()
    local c = client { retry = false, timeout = { read = 0.4 } }
    local t0 = core.now()
    local res, err = c:request("GET", "/trickle", { query = { bytes = 30, interval_ms = 100 } })
    assert.is_nil(res)
    assert.equals("timeout", err.kind)
    assert.is_true(core.now() - t0 < 1.0)
  end)

  it("per-call timeout overrides", function()
    local c = client { retry = false }
    local res, err = c:request("GET", "/delay/1000", { timeout = { read = 0.1 } })
    assert.is_nil(res)
    assert.equals("timeout", err.kind)
    assert.equals("GET", err.method)
    assert.equals("/delay/1000", err.endpoint)
    assert.is_string(err.request_id)
    assert.matches("^timeout: ", tostring(err))
  end)
end)
