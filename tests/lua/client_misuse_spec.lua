-- Misuse of every public function of the C client binding raises a clear
-- Lua error naming the argument; nothing here reaches the network (the base
-- URL points at a closed port, and every call fails validation first).
local core = require "lira.core"

local function cfg(over)
  local c = { name = "misuse", base_url = "http://127.0.0.1:1", retry = false, breaker = false,
              limit = false }
  for k, v in pairs(over or {}) do c[k] = v end
  return c
end

local function raises(pattern, fn, ...)
  local ok, msg = pcall(fn, ...)
  assert.is_false(ok, "expected an error matching " .. pattern)
  assert.matches(pattern, tostring(msg), 1, true)
end

describe("core.client_new misuse", function()
  it("names the malformed field", function()
    raises("bad argument #1", core.client_new, nil)
    raises("lira.client: name must be a non-empty string", core.client_new, cfg { name = "" })
    raises("base_url must be an http:// or https:// URL", core.client_new, cfg { base_url = "ftp://x" })
    raises("timeout.read must be a positive number", core.client_new,
           cfg { timeout = { connect = 1, read = -1, deadline = 3 } })
    raises("retry.attempts must be an integer", core.client_new, cfg { retry = { attempts = 0 } })
    raises("retry.jitter must be", core.client_new, cfg { retry = { jitter = "lots" } })
    raises("retry.cap must be >= base", core.client_new, cfg { retry = { base = 2, cap = 1 } })
    raises("retry.on must be a function", core.client_new, cfg { retry = { on = 1 } })
    raises("breaker.failure_rate must be in (0, 1]", core.client_new,
           cfg { breaker = { failure_rate = 2 } })
    raises("breaker.min_calls must be an integer", core.client_new, cfg { breaker = { min_calls = 0 } })
    raises("limit.target must be in (0, 1]", core.client_new, cfg { limit = { rate = 1, target = 3 } })
    raises("headers: 'bad name' is not a valid header name", core.client_new,
           cfg { headers = { ["bad name"] = "x" } })
    raises("must not contain CR, LF or NUL", core.client_new, cfg { headers = { X = "a\r\nB: c" } })
    raises("redirects must be an integer", core.client_new, cfg { redirects = -1 })
    raises("max_body must be an integer", core.client_new, cfg { max_body = 0 })
    raises("tls.insecure must be a boolean", core.client_new, cfg { tls = { insecure = "yes" } })
    raises("version.path must start with '/'", core.client_new, cfg { version = { path = "v1" } })
  end)
end)

describe("cclient:request misuse", function()
  local c
  setup(function() c = core.client_new(cfg()) end)

  it("names the argument and the public method", function()
    raises("bad argument #2 to 'get' (method must be an upper-case HTTP method name)",
           c.request, c, "get", "/x", nil, "get")
    raises("bad argument #2 to 'get' (path must be a string)", c.request, c, "GET", 42, nil, "get")
    raises("bad argument #2 to 'get' (path must start with '/'", c.request, c, "GET", "x", nil, "get")
    raises("bad argument #3 to 'get' (options must be a table)", c.request, c, "GET", "/", 5, "get")
    raises("bad argument #3 to 'get' (unknown option 'tiemout')", c.request, c, "GET", "/",
           { tiemout = {} }, "get")
    raises("bad argument #3 to 'get' (options.timeout.read must be a positive number)",
           c.request, c, "GET", "/", { timeout = { read = -1 } }, "get")
    raises("bad argument #3 to 'get' (unknown option timeout.reed)",
           c.request, c, "GET", "/", { timeout = { reed = 1 } }, "get")
    raises("bad argument #3 to 'post' (unknown option retry.atempts)",
           c.request, c, "POST", "/", { retry = { atempts = 3 } }, "post")
    raises("options.retry.attempts must be an integer", c.request, c, "GET", "/",
           { retry = { attempts = 1.5 } })
    raises("bad argument #3 to 'request' (options.params.id is missing (path /o/{id}))",
           c.request, c, "GET", "/o/{id}", { params = {} })
    raises("options.params.id is missing", c.request, c, "GET", "/o/{id}")
    raises("options.params.id must be a string or a number", c.request, c, "GET", "/o/{id}",
           { params = { id = {} } })
    raises("path has a '{' without '}'", c.request, c, "GET", "/o/{id", { params = { id = 1 } })
    raises("path must not contain spaces", c.request, c, "GET", "/a b")
    raises("options.query.k must be a string, number, boolean or an array of them",
           c.request, c, "GET", "/", { query = { k = function() end } })
    raises("options.query keys must be strings", c.request, c, "GET", "/", { query = { 1 } })
    raises("options.headers: 'a b' is not a valid header name", c.request, c, "GET", "/",
           { headers = { ["a b"] = "1" } })
    raises("options.headers.X must not contain CR, LF or NUL", c.request, c, "GET", "/",
           { headers = { X = "1\n2" } })
    raises("options.json and options.body cannot both be given", c.request, c, "POST", "/",
           { json = {}, body = "x" })
    raises("options.body must be a string", c.request, c, "POST", "/", { body = 1 })
    raises("cannot encode a function", c.request, c, "POST", "/", { json = { f = print } })
    raises("options.idempotency_key must be a string or true", c.request, c, "POST", "/",
           { idempotency_key = 5 })
    raises("options.idempotency_key must be a non-empty string", c.request, c, "POST", "/",
           { idempotency_key = "" })
    raises("options.deadline must be a lira.now() time", c.request, c, "GET", "/",
           { deadline = "soon" })
    raises("options.retry must be a table or false", c.request, c, "GET", "/", { retry = true })
  end)

  it("rejects a closed client and the wrong self", function()
    local d = core.client_new(cfg { name = "closed" })
    d:close()
    d:close()   -- closing twice is harmless
    raises("lira.Client: the client is closed", d.request, d, "GET", "/")
    raises("lira.Client expected", c.request, {}, "GET", "/")
    assert.matches("closed", tostring(d))
  end)
end)

describe("objects misuse", function()
  it("breaker and limiter constructors and methods", function()
    raises("lira.breaker: window must be from 1 to 3600 seconds", core.breaker_new, { window = 0.5 })
    raises("lira.breaker: failure must be a function", core.breaker_new, { failure = 1 })
    raises("lira.limiter: rate must be a positive number", core.limiter_new, { rate = false })
    raises("bad argument #1", core.limiter_new, nil)
    local b = core.breaker_new {}
    raises("function expected, got number", b.call, b, 42)
    raises("lira.Breaker expected", b.state, {})
    local l = core.limiter_new { rate = 1, per = 1, burst = 1 }
    raises("bad argument #2 to '?' (n must be a positive integer)", l.acquire, l, 0)
    raises("n exceeds the limiter's burst", l.acquire, l, 2)
    raises("bad argument #3", l.acquire, l, 1, "later")
    raises("string expected, got nil", core.redact_url, nil)
  end)

  it("helpers", function()
    assert.matches("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$", core.uuid4())
    assert.not_equals(core.uuid4(), core.uuid4())
    assert.equals("https://REDACTED@h/x?token=REDACTED&a=1",
                  core.redact_url("https://u:p@h/x?token=abc&a=1"))
  end)
end)
