-- lira.client: one client per upstream API (LUA-API.md §3, §5, §6).
--
-- This file owns the client's options: the schema below is the ONE place
-- their names, checks, defaults and doc lines live (docs/lua-api.md is
-- written from `M.option_rows()`, and a test holds the two equal). Options
-- are validated once, here; C (core.client_new) receives a normalized table
-- and owns everything per call. Per call this file only adds the auth header
-- (§6: a 401 with a refreshable credential refreshes once and retries once)
-- and applies the fallback (§5).
local core = require "lira.core"
local schema = require "lira.schema"
-- auth, fallback and state are loaded only when used (every integration of
-- `lira run` loads this file): a value can only be one of their objects
-- once its module is loaded, so until then the answer is "no".
local loaded = package.loaded
local function is_auth(v)
  local m = loaded["lira.auth"]
  return m ~= nil and m.is_auth(v)
end
local function is_stale(v)
  local m = loaded["lira.fallback"]
  return m ~= nil and m.is_stale(v)
end
local function is_key(v)
  local m = loaded["lira.state"]
  return m ~= nil and m.is_key(v)
end

local M = {}

local S = schema

-- RFC 9110 token (header names).
local TOKEN = "^[%w!#$%%&'*+%-.^_`|~]+$"
local MIB = 1024 * 1024

local function header_value_ok(v)
  return type(v) == "string" and not v:find("[%z\r\n]")
end

-- ------------------------------------------------------------- checks ---

local function check_name(v)
  if type(v) ~= "string" or not v:find("^[%w_.:%-]+$") or #v > 128 then return false end
  return true, v
end

-- base_url: http(s), a host, no whitespace; trailing slashes dropped. The
-- value is never echoed: it may carry credentials.
local function check_base_url(v)
  if type(v) ~= "string" then return false end
  if not v:find("^https?://[^/?#]+") then
    return false, " must be an http:// or https:// URL with a host"
  end
  if v:find("[%s%c]") then return false, " must not contain spaces or control characters" end
  if v:find("[?#]") then return false, " must not have a query or fragment (use query = ...)" end
  return true, (v:gsub("/+$", ""))
end

local function check_headers(v)
  if type(v) ~= "table" then return false end
  local out = {}
  for k, x in pairs(v) do
    if type(k) ~= "string" or not k:find(TOKEN) then
      return false, (" has an invalid header name %q"):format(tostring(k))
    end
    if type(x) == "number" then x = tostring(x) end
    if not header_value_ok(x) then
      return false, (" has an invalid value for %s (a string without CR/LF)"):format(k)
    end
    out[k] = x
  end
  return true, out
end

local function check_auth(v)
  if is_auth(v) then return true, v end
  return false
end

local function check_fallback(v)
  -- false: "failures surface", an explicit decision (lira check asks for one).
  if v == false then return true, nil end
  if type(v) == "function" or is_stale(v) then return true, v end
  return false
end

local function check_ca_file(v)
  if type(v) ~= "string" or v == "" then return false end
  local f = io.open(v, "r")
  if not f then return false, (" cannot be opened: %s"):format(v) end
  f:close()
  return true, v
end

-- ------------------------------------------------------------- schema ---

local function pos(default, doc, o)
  o = o or {}
  o.above, o.default, o.doc = 0, default, doc
  return S.number(o)
end

local function fraction(default, doc)
  return S.number { above = 0, max = 1, default = default, doc = doc }
end

local function int(min, max, default, doc)
  return S.number { integer = true, min = min, max = max, default = default, doc = doc }
end

local TIMEOUT = S.group({
  { "connect", pos(2, "seconds to connect (TCP and TLS handshake)") },
  { "read", pos(10, "seconds per attempt; each attempt gets min(read, time left to the deadline)") },
  { "deadline", pos(30, "seconds for the whole call, retries and backoff included; false = none",
                    { false_ok = true }) },
}, { doc = "timeouts in seconds" })

local BUDGET = S.group({
  { "ratio", S.number { min = 0, max = 1000, default = 0.1,
      doc = "retries may add at most this fraction of the requests of the last 10 s" } },
  { "min_per_second", int(0, 1000000, 10, "retries per second always allowed") },
}, { false_ok = true, doc = "the client-wide retry budget; false = no budget" })

local RETRY = S.group({
  { "attempts", int(1, 1000, 4, "attempts in all, the first try included (4 = 1 try + 3 retries)") },
  { "base", pos(0.2, "first backoff interval, seconds; doubles on each retry", { max = 86400 }) },
  { "cap", pos(30, "largest backoff interval, seconds", { max = 86400 }) },
  { "jitter", S.one_of { "full", "none", "decorrelated", default = "full",
      doc = "full: a uniform 0-100 % of the interval is added" } },
  { "max_elapsed", pos(false, "no retry starts later than this many seconds after the call " ..
                              "began; false = only the deadline limits retries",
                       { false_ok = true }) },
  { "on", S.func { doc = "custom rule on(res, err, attempt): true = retry, false = stop, " ..
                         "nil = the built-in rules" } },
  { "budget", BUDGET },
}, { false_ok = true, doc = "retries (§3.2); false = one attempt only" })

local SLOW_CALL = S.group({
  { "threshold", pos(5, "a call lasting at least this many seconds is slow") },
  { "rate", fraction(0.8, "trip when this fraction of the window's calls are slow") },
}, { false_ok = true, default_off = true, doc = "slow calls count against the breaker" })

local BREAKER_FIELDS = {
  { "window", S.number { min = 1, max = 3600, default = 30,
      doc = "seconds of history the failure rate is computed over" } },
  { "failure_rate", fraction(0.5, "trip when this fraction of the window's calls failed") },
  { "min_calls", int(1, 2147483647, 20, "calls in the window before it may trip") },
  { "cooldown", pos(15, "seconds open before trial calls are let through (half-open)",
                    { max = 86400 }) },
  { "half_open", int(1, 1000000, 3, "trial calls in half-open; all must succeed to close") },
  { "slow_call", SLOW_CALL },
  { "failure", S.func { doc = "failure(res, err) -> true/false overrides what counts as " ..
                              "a failure; nil = the default rule" } },
}

local BREAKER = S.group(BREAKER_FIELDS,
  { false_ok = true, doc = "the circuit breaker (on by default); false = off" })

local LIMIT = S.group({
  { "rate", pos(false, "tokens per `per` seconds; false = no token bucket (headers only)",
                { false_ok = true }) },
  { "per", pos(1, "seconds `rate` is counted over") },
  { "burst", int(1, 4294967295, 10, "tokens that may be saved up") },
  { "target", fraction(0.8, "fraction of the rate (configured or announced) actually used") },
  { "headers", S.boolean { default = true,
      doc = "pace by the server's rate-limit headers and Retry-After" } },
}, { false_ok = true, doc = "client-side rate limiting; false = no pacing at all" })

local VERSION = S.group({
  { "header", S.string { pattern = TOKEN, what = "a header name", doc = "version header name" } },
  { "value", S.custom(function(v) if header_value_ok(v) then return true, v end return false end,
                      "a string without CR/LF", { doc = "version header value" }) },
  { "path", S.string { pattern = "^/[^%s?#]*$", what = "a path starting with '/'",
      doc = "path prefix added after base_url" } },
}, { false_ok = true, default_off = true,
     doc = "API version pinning: { header =, value = } or { path = }; false = none" })

local TLS = S.group({
  { "ca_file", S.custom(check_ca_file, "a readable file name",
                        { doc = "PEM bundle of trusted CAs; none = the system's" }) },
  { "insecure", S.boolean { default = false,
      doc = "true = do not verify certificates (logs a warning)" } },
}, { doc = "TLS verification (always on unless insecure = true)" })

local CLIENT = S.group({
  { "name", S.custom(check_name, "a string of letters, digits and _ . : - (at most 128)",
                     { required = true, doc = "labels logs and metrics; keys breaker and " ..
                                              "limiter state" }) },
  { "base_url", S.custom(check_base_url, "an http:// or https:// URL",
                         { required = true, doc = "scheme, host, optional path prefix" }) },
  { "version", VERSION },
  { "headers", S.custom(check_headers, "a table of header names to strings",
                        { default = {}, doc = "default headers of every call" }) },
  { "user_agent", S.custom(function(v)
                              if header_value_ok(v) and v ~= "" then return true, v end
                              return false
                            end,
                           "a non-empty string", { default = "lira/" .. core.version,
                                                   shown = '"lira/<version>"',
                                                   doc = "User-Agent header" }) },
  { "auth", S.custom(check_auth, "a lira.auth value (lira.auth.bearer, basic, header or oauth2)",
                     { doc = "credentials added to every call (§6)" }) },
  { "timeout", TIMEOUT },
  { "retry", RETRY },
  { "breaker", BREAKER },
  { "limit", LIMIT },
  { "redirects", int(0, 100, 5, "redirect hops followed; 0 = do not follow") },
  { "max_body", S.number { integer = true, min = 1, max = 1 << 40, default = 10 * MIB,
      shown = "10485760 (10 MiB)", doc = "bytes; a larger response fails with kind too_large" } },
  { "connections", int(1, 1024, 16, "connections to the host at once; more calls wait, in order " ..
      "(clients of one host share the pool, each with its own cap)") },
  { "tls", TLS },
  { "idempotency_header", S.string { pattern = TOKEN, what = "a header name",
      default = "Idempotency-Key", doc = "header carrying idempotency_key" } },
  { "fallback", S.custom(check_fallback, "a function(req, err) or false",
                         { doc = "called instead of failing (§5); `false` says failures " ..
                               "surface (an explicit decision `lira check` accepts)" }) },
})

local STANDALONE_BREAKER = S.group(BREAKER_FIELDS)

local STANDALONE_LIMITER = S.group({
  { "rate", pos(nil, "tokens per `per` seconds", { required = true }) },
  { "per", pos(1, "seconds `rate` is counted over") },
  { "burst", int(1, 4294967295, 10, "tokens that may be saved up") },
  { "target", fraction(0.8, "fraction of the rate actually used") },
})

-- ---------------------------------------------------------- normalize ---

local function fail(who, msg)
  error(who .. ": " .. msg, 0)
end

-- Cross-field rules the schema cannot say alone.
local function check_retry(who, r)
  if r and r.cap < r.base then fail(who, "option retry.cap must be >= retry.base") end
end

local function check_version(who, v)
  if not v then return false end
  if v.path ~= nil then
    if v.header ~= nil or v.value ~= nil then
      fail(who, "option version takes either { header =, value = } or { path = }, not both")
    end
    local p = v.path:gsub("/+$", "")
    return p ~= "" and { path = p } or false
  end
  if v.header == nil or v.value == nil then
    fail(who, "option version needs both header and value (or path)")
  end
  return { header = v.header, value = v.value }
end

-- The table core.client_new receives (see client_iface.md), plus what
-- stays on the Lua side: auth and fallback.
local function normalize(opts)
  local who = "lira.client"
  local o = S.validate(CLIENT, opts, who)
  check_retry(who, o.retry)
  local cfg = {
    name = o.name, base_url = o.base_url, headers = o.headers, user_agent = o.user_agent,
    version = check_version(who, o.version), timeout = o.timeout,
    retry = o.retry, budget = o.retry and o.retry.budget or false,
    breaker = o.breaker, limit = o.limit, redirects = o.redirects, max_body = o.max_body,
    connections = o.connections, tls = o.tls, idempotency_header = o.idempotency_header,
  }
  if cfg.retry then cfg.retry.budget = nil end
  if cfg.limit and not cfg.limit.rate and not cfg.limit.headers then cfg.limit = false end
  return cfg, o.auth, o.fallback or nil
end

-- client._normalize(opts) -> cfg, auth, fallback: validation and
-- normalization without creating anything (tests, and lira.auth.oauth2).
M._normalize = normalize

-- The defaults table (every option that has one), for docs and tests.
M.defaults = S.defaults(CLIENT)

-- The documentation rows (path, default, what, doc) of every option.
function M.option_rows(which)
  local spec = ({ client = CLIENT, breaker = STANDALONE_BREAKER,
                  limiter = STANDALONE_LIMITER })[which or "client"]
  return S.rows(spec)
end

-- --------------------------------------------------------------- errors ---

-- Errors made on the Lua side (auth, fallback's "status") look like the
-- C side's: kind, message, tostring "kind: message".
local Error = { __name = "lira.Error" }
Error.__index = Error
Error.__tostring = function(e) return e.kind .. ": " .. e.message end

function M.error(kind, message, fields)
  local e = { kind = kind, message = message, retryable = false }
  for k, v in pairs(fields or {}) do e[k] = v end
  return setmetatable(e, Error)
end

-- --------------------------------------------------------------- client ---

local Client = { __name = "lira.Client" }
Client.__index = Client

function Client:__tostring()
  return ("lira.client(%s)"):format(self.name)
end

-- opts with the auth header added (a per-call header of the same name wins).
local function with_auth(opts, name, value)
  local o, h, lname, given = {}, {}, name:lower(), false
  if opts ~= nil then
    if type(opts) ~= "table" then return opts end       -- C raises the error
    for k, v in pairs(opts) do o[k] = v end
    local user = opts.headers
    if user ~= nil and type(user) ~= "table" then return opts end  -- C raises the error
    for k, v in pairs(user or {}) do
      h[k] = v
      if type(k) == "string" and k:lower() == lname then given = true end
    end
  end
  if not given then h[name] = value end
  o.headers = h
  return o
end

-- One request with the current credential; on a 401 the credential is
-- dropped (if still current) and the request is sent once more.
local function send_with_auth(self, a, method, path, opts, fname)
  local value, err = a:value()
  if value == nil then return nil, err end
  local c = self._c
  local res, rerr = c:request(method, path, with_auth(opts, a.header_name, value), fname)
  if res and res.status == 401 and a:reject(value) then
    value, err = a:value()
    if value == nil then return nil, err end
    res, rerr = c:request(method, path, with_auth(opts, a.header_name, value), fname)
  end
  return res, rerr
end

local function fallback_req(self, method, path, opts)
  local req = { client = self.name, method = method, path = path, endpoint = path,
                opts = opts or {} }
  if type(opts) == "table" then
    for _, k in ipairs { "params", "query", "headers", "json", "body" } do req[k] = opts[k] end
  end
  return req
end

-- The fallback's answer: what it returned, or the original outcome when it
-- returned nothing at all.
local function fallback_result(res, err, ...)
  if select("#", ...) == 0 then
    if res ~= nil then return res end
    return nil, err
  end
  return ...
end

local function apply_fallback(self, method, path, opts, res, err)
  local e = err
  if e == nil then
    e = M.error("status", ("HTTP %d from %s %s"):format(res.status, method, path),
                { status = res.status, response = res, attempts = res.attempts,
                  request_id = res.request_id, method = method, endpoint = path,
                  retryable = true })
  end
  return fallback_result(res, err, self._fallback(fallback_req(self, method, path, opts), e))
end

-- opts with a lira.idempotency.key object replaced by its key string.
local function with_key(opts)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.idempotency_key = tostring(opts.idempotency_key)
  return o
end

local function call(self, method, path, opts, fname)
  if getmetatable(self) ~= Client then
    error(("bad argument #1 to '%s' (lira client expected, got %s; call it as client:%s(...))")
          :format(fname, type(self), fname), 3)
  end
  -- opts is nil on most calls: no type() call then
  if opts ~= nil and type(opts) == "table" and is_key(opts.idempotency_key) then
    opts = with_key(opts)
  end
  local a, res, err = self._auth, nil, nil
  if a == nil then
    res, err = self._c:request(method, path, opts, fname)
  else
    res, err = send_with_auth(self, a, method, path, opts, fname)
  end
  local stale = self._stale
  if self._fallback ~= nil and (err ~= nil or res.status >= 500 or res.status == 429) then
    if stale then return stale:serve(self, method, path, opts, res, err) end
    return apply_fallback(self, method, path, opts, res, err)
  end
  if stale then stale:keep(self, method, path, opts, res) end
  return res, err
end

local METHODS = { "get", "post", "put", "patch", "delete", "head" }

for _, m in ipairs(METHODS) do
  local method = m:upper()
  Client[m] = function(self, path, opts)
    return call(self, method, path, opts, m)
  end
end

-- The common call — a client without auth or fallback, no options — has
-- nothing for call() to do but reach C. Such a client gets methods of its
-- own that go straight there (no metatable lookup, no call() frame: ~1.9k
-- fewer Lua VM instructions a call: bench/README.md, issue 4, "Ninth pass"); given
-- options, or called on another object (client.get(path) by mistake), they
-- take the full way, with its checks and errors.
local function add_direct_methods(self, cc)
  for _, m in ipairs(METHODS) do
    local method, full = m:upper(), Client[m]
    self[m] = function(s, path, opts)
      if s == self and opts == nil then return cc:request(method, path, nil, m) end
      return full(s, path, opts)
    end
  end
end

-- client:request{ method =, path =, <call options> }
function Client:request(t)
  if type(t) ~= "table" then
    error(("bad argument #1 to 'request' (table expected, got %s)"):format(type(t)), 2)
  end
  if type(t.method) ~= "string" or not t.method:find("^%a+$") then
    error("bad argument #1 to 'request' (method must be a string like \"GET\")", 2)
  end
  local opts = {}
  for k, v in pairs(t) do
    if k ~= "method" and k ~= "path" then opts[k] = v end
  end
  return call(self, t.method:upper(), t.path, opts, "request")
end

-- client:paginate(path, opts) (§4) and client:await(res, opts): their own
-- modules (lua/lira/paginate.lua, lua/lira/await.lua).
-- Loaded on first use; the tail call keeps error levels as they were.
function Client.paginate(...)
  Client.paginate = require("lira.paginate").paginate
  return Client.paginate(...)
end
function Client.await(...)
  Client.await = require("lira.await").await
  return Client.await(...)
end

-- The C client object (for the rare direct use; not part of the API).
function Client:_cclient()
  return self._c
end

-- lira.client(opts)
function M.new(opts)
  local ok, cfg, a, fb = pcall(normalize, opts)
  if not ok then error(cfg, 2) end
  local cc = core.client_new(cfg)
  if cfg.tls.insecure then
    io.stderr:write(("lira: WARNING: client '%s' has tls.insecure = true: TLS certificates " ..
                     "and host names are NOT verified\n"):format(cfg.name))
  end
  local self = setmetatable({ name = cfg.name, base_url = core.redact_url(cfg.base_url),
                              _c = cc, _auth = a, _fallback = fb,
                              _stale = is_stale(fb) and fb or nil }, Client)
  self.breaker = cc:breaker()
  self.limiter = cc:limiter()
  if a == nil and fb == nil then add_direct_methods(self, cc) end
  return self
end

-- lira.breaker{...} / lira.limiter{...}: standalone (§3.3).
function M.breaker(opts)
  local ok, cfg = pcall(S.validate, STANDALONE_BREAKER, opts, "lira.breaker")
  if not ok then error(cfg, 2) end
  return core.breaker_new(cfg)
end

function M.limiter(opts)
  local ok, cfg = pcall(S.validate, STANDALONE_LIMITER, opts, "lira.limiter")
  if not ok then error(cfg, 2) end
  cfg.headers = false
  return core.limiter_new(cfg)
end

return M
