-- lira.auth: credentials a client adds to every call (LUA-API.md §6).
--
--   lira.auth.bearer(token | fn)           Authorization: Bearer <token>
--   lira.auth.basic(user, pass)            Authorization: Basic base64(user:pass)
--   lira.auth.header(name, value | fn)     name: value
--   lira.auth.oauth2 { token_url =, client_id =, client_secret =, scope = }
--
-- A function given as token/value is called when one is needed and may
-- return `token, expires_in`: with expires_in the value is cached and
-- refreshed before it expires; without, the function is called for every
-- request. OAuth2 (client credentials, RFC 6749 §4.4) fetches its token with
-- an internal lira client and caches it the same way.
--
-- Refresh rules (one place: `Source` below):
--   * a cached value is refreshed ahead of expiry, when less than
--     min(30 s, 10 % of its lifetime) is left; until it really expires the
--     old value is still used while the refresh runs in the background;
--   * concurrent callers share one in-flight refresh (it runs as its own
--     task; every caller that needs the new value joins it);
--   * a 401 drops the value that was refused (unless someone already
--     replaced it) so that the client refreshes once and retries once.
-- Secrets (passwords, client secrets, tokens) never appear in error
-- messages or in tostring().
local core = require "lira.core"
local schema = require "lira.schema"

local M = {}

local function client_mod()
  return require "lira.client"   -- late: lira.client requires this module
end

local function auth_error(message, fields)
  return client_mod().error("auth", message, fields)
end

-- ------------------------------------------------------------ helpers ---

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function b64char(n)
  return B64:sub(n + 1, n + 1)
end

-- Standard base64 with padding (RFC 4648 §4).
function M._base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    out[#out + 1] = b64char(n >> 18) .. b64char((n >> 12) & 63) ..
      (b and b64char((n >> 6) & 63) or "=") .. (c and b64char(n & 63) or "=")
  end
  return table.concat(out)
end

-- application/x-www-form-urlencoded (WHATWG): space is '+'.
function M._form_escape(s)
  return (s:gsub("[^%w%*%-%._ ]", function(ch)
    return ("%%%02X"):format(ch:byte())
  end):gsub(" ", "+"))
end

local function form_encode(fields)
  local keys = {}
  for k in pairs(fields) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do
    parts[i] = M._form_escape(k) .. "=" .. M._form_escape(fields[k])
  end
  return table.concat(parts, "&")
end

local function form_decode(s)
  return (s:gsub("%+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function value_ok(v)
  return type(v) == "string" and v ~= "" and not v:find("[%z\r\n]")
end

local function argerror(n, fname, msg)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3)
end

-- --------------------------------------------------- cached value source ---

-- Refresh when less than this is left of a lifetime of `ttl` seconds.
local function margin(ttl)
  return math.min(30, ttl * 0.1)
end

M.refresh_margin = margin

local Source = {}
Source.__index = Source

-- fetch() -> value, expires_in | nil, err. `keep` keeps a value without
-- expires_in until a 401 refuses it (oauth2); otherwise such a value is
-- used once and fetch() called again next time (a token function).
local function new_source(fetch, keep)
  return setmetatable({ fetch = fetch, keep = keep, value = nil, refresh_at = nil,
                        expires_at = nil, flight = nil, once = false }, Source)
end

-- Run fetch, store the outcome; returns value | nil, err. Never raises.
function Source:_fetch_now()
  local ok, v, exp = pcall(self.fetch)
  if not ok then
    return nil, auth_error("the token function raised: " .. tostring(v))
  end
  if v == nil then
    if type(exp) == "table" then return nil, exp end
    return nil, auth_error("the token function returned nil" ..
                           (exp ~= nil and (": " .. tostring(exp)) or ""))
  end
  if not value_ok(v) then
    return nil, auth_error(("the token function returned %s, not a non-empty string " ..
                            "without CR/LF"):format(type(v)))
  end
  exp = tonumber(exp)
  if exp ~= nil and exp ~= exp then exp = nil end
  if exp ~= nil and exp > 0 then
    local now = core.now()
    self.value, self.expires_at, self.refresh_at = v, now + exp, now + exp - margin(exp)
  elseif exp == nil and self.keep then
    self.value, self.expires_at, self.refresh_at = v, nil, nil
  else
    -- No lifetime (or 0): use it for this request only.
    self.value, self.expires_at, self.refresh_at = nil, nil, nil
    if exp == nil then self.once = true end
  end
  return v
end

-- Start (or join) the one refresh in flight; returns the flight record.
function Source:_start_flight()
  local f = self.flight
  if f then return f end
  f = {}
  self.flight = f
  f.task = core.spawn(function()
    f.value, f.err = self:_fetch_now()
    self.flight = nil
  end)
  return f
end

-- The current value: value | nil, err. May wait for the refresh.
function Source:get()
  if self.once then
    return self:_fetch_now()
  end
  local v = self.value
  if v ~= nil then
    if self.refresh_at == nil then return v end
    local now = core.now()
    if now < self.refresh_at then return v end
    if now < self.expires_at then
      self:_start_flight()       -- refresh ahead; this call still uses v
      return v
    end
  end
  local f = self:_start_flight()
  local ok, jerr = f.task:join()
  if not ok and f.value == nil and f.err == nil then
    f.err = auth_error("the token refresh failed: " .. tostring(jerr))
  end
  if f.value == nil then return nil, f.err end
  return f.value
end

-- A 401 refused `v`: forget it unless it was already replaced.
function Source:reject(v)
  if self.value == v then
    self.value, self.expires_at, self.refresh_at = nil, nil, nil
  end
  return true
end

-- ------------------------------------------------------- auth objects ---

local Auth = { __name = "lira.Auth" }
Auth.__index = Auth

function Auth:__tostring()
  return ("lira.auth.%s(<redacted>)"):format(self.kind)
end

function M.is_auth(v)
  return getmetatable(v) == Auth
end

-- a:value() -> header value | nil, err (may wait for a refresh).
function Auth:value()
  if self.static ~= nil then return self.static end
  local v, err = self.source:get()
  if v == nil then return nil, err end
  return self.prefix .. v
end

-- a:reject(value) -> whether fetching a new value could help (a 401).
function Auth:reject(value)
  if self.source == nil then return false end
  return self.source:reject(value:sub(#self.prefix + 1))
end

-- a:invalidate(): drop any cached value (the next call fetches a new one).
function Auth:invalidate()
  if self.source then self.source.value = nil end
end

local function new_auth(kind, header_name, prefix, static, fetch, keep)
  return setmetatable({ kind = kind, header_name = header_name, prefix = prefix,
                        static = static, source = fetch and new_source(fetch, keep) or nil },
                      Auth)
end

-- lira.auth.bearer(token | fn)
function M.bearer(token)
  if type(token) == "function" then
    return new_auth("bearer", "Authorization", "Bearer ", nil, token, false)
  end
  if not value_ok(token) then
    argerror(1, "lira.auth.bearer", "token must be a non-empty string without CR/LF, " ..
                                    "or a function")
  end
  return new_auth("bearer", "Authorization", "", "Bearer " .. token)
end

-- lira.auth.basic(user, pass)
function M.basic(user, pass)
  if type(user) ~= "string" or user:find("[:%c]") then
    argerror(1, "lira.auth.basic", "user must be a string without ':' or control characters")
  end
  if type(pass) ~= "string" or pass:find("[%z\r\n]") then
    argerror(2, "lira.auth.basic", "password must be a string without CR/LF")
  end
  return new_auth("basic", "Authorization", "", "Basic " .. M._base64(user .. ":" .. pass))
end

-- lira.auth.header(name, value | fn)
function M.header(name, value)
  if type(name) ~= "string" or not name:find("^[%w!#$%%&'*+%-.^_`|~]+$") then
    argerror(1, "lira.auth.header", "name must be a header name")
  end
  if type(value) == "function" then
    return new_auth("header", name, "", nil, value, false)
  end
  if not value_ok(value) then
    argerror(2, "lira.auth.header", "value must be a non-empty string without CR/LF, " ..
                                    "or a function")
  end
  return new_auth("header", name, "", value)
end

-- ------------------------------------------------------------- oauth2 ---

local function check_scope(v)
  if type(v) == "string" then
    if v ~= "" and not v:find("[%c\"\\]") then return true, v end
    return false
  end
  if type(v) ~= "table" or #v == 0 then return false end
  for _, s in ipairs(v) do
    if type(s) ~= "string" or not s:find("^[^%s%c\"\\]+$") then return false end
  end
  return true, table.concat(v, " ")
end

local function check_params(v)
  if type(v) ~= "table" then return false end
  for k, x in pairs(v) do
    if type(k) ~= "string" or type(x) ~= "string" then return false end
  end
  return true, v
end

local function is_table(v)
  if type(v) == "table" then return true, v end
  return false
end

local OAUTH2 = schema.group({
  { "token_url", schema.string { pattern = "^https?://[^/?#%s]+[^%s]*$", required = true,
      what = "an http:// or https:// URL", doc = "the token endpoint" } },
  { "client_id", schema.string { nonempty = true, required = true, doc = "client id" } },
  { "client_secret", schema.string { nonempty = true, required = true,
      doc = "client secret (never logged)" } },
  { "scope", schema.custom(check_scope, "a string or a list of scope strings",
      { doc = "requested scope" }) },
  { "client_auth", schema.one_of { "basic", "body", default = "basic",
      doc = "basic: HTTP Basic (RFC 6749 §2.3.1); body: client_id/client_secret in the form" } },
  { "params", schema.custom(check_params, "a table of strings",
      { doc = "extra form fields (e.g. audience)" }) },
  { "timeout", schema.custom(is_table, "a table",
      { doc = "timeouts of the token requests (as a client's)" }) },
  { "tls", schema.custom(is_table, "a table",
      { doc = "TLS options of the token requests (as a client's)" }) },
  { "name", schema.string { pattern = "^[%w_.:%-]+$", what = "a client name",
      doc = "name of the internal token client; default oauth2:<host>" } },
})

M.oauth2_rows = function() return schema.rows(OAUTH2) end

-- Split a token URL into origin, path and query table.
local function split_url(url)
  local origin, rest = url:match("^(https?://[^/?#]+)(.*)$")
  rest = rest:gsub("#.*$", "")
  local path, q = rest:match("^([^?]*)%??(.*)$")
  local query = {}
  for pair in q:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    query[form_decode(k)] = form_decode(v)
  end
  return origin, path ~= "" and path or "/", query
end

local function token_request(o)
  local fields = { grant_type = "client_credentials" }
  for k, v in pairs(o.params or {}) do fields[k] = v end
  if o.scope then fields.scope = o.scope end
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  if o.client_auth == "basic" then
    headers.Authorization = "Basic " .. M._base64(M._form_escape(o.client_id) .. ":" ..
                                                  M._form_escape(o.client_secret))
  else
    fields.client_id, fields.client_secret = o.client_id, o.client_secret
  end
  return { query = o.query, headers = headers, body = form_encode(fields) }
end

-- The token endpoint's answer -> token, expires_in | nil, err.
local function token_from(o, res)
  local ok, doc = pcall(res.json, res)
  if res.status ~= 200 then
    local code = ok and type(doc) == "table" and type(doc.error) == "string" and doc.error
    local desc = code and type(doc.error_description) == "string" and doc.error_description
    return nil, auth_error(("lira.auth.oauth2: the token endpoint %s answered %d%s"):format(
      o.shown_url, res.status,
      code and (" " .. code .. (desc and (" (" .. desc .. ")") or "")) or ""),
      { status = res.status, response = res })
  end
  if not ok or type(doc) ~= "table" or not value_ok(doc.access_token) then
    return nil, auth_error(("lira.auth.oauth2: the token endpoint %s answered 200 without " ..
                            "an access_token"):format(o.shown_url), { status = 200 })
  end
  if doc.token_type ~= nil and (type(doc.token_type) ~= "string"
                                or doc.token_type:lower() ~= "bearer") then
    return nil, auth_error(("lira.auth.oauth2: unsupported token_type %q from %s"):format(
      tostring(doc.token_type), o.shown_url))
  end
  return doc.access_token, tonumber(doc.expires_in)
end

local function fetch_token(o)
  if not o.client then
    o.client = client_mod().new(o.client_opts)
  end
  local res, err = o.client:post(o.path, token_request(o))
  if res == nil then
    return nil, auth_error(("lira.auth.oauth2: token request to %s failed: %s"):format(
      o.shown_url, tostring(err)), { cause = err, retryable = err and err.retryable })
  end
  return token_from(o, res)
end

-- lira.auth.oauth2 { token_url =, client_id =, client_secret =, scope =, ... }
function M.oauth2(opts)
  local ok, o = pcall(schema.validate, OAUTH2, opts, "lira.auth.oauth2")
  if not ok then error(o, 2) end
  local origin, path, query = split_url(o.token_url)
  o.path, o.query = path, query
  o.shown_url = core.redact_url and core.redact_url(o.token_url) or origin .. path
  o.client_opts = { name = o.name or ("oauth2:" .. origin:gsub("^https?://", ""):gsub("[^%w_.:%-]", "_")),
                    base_url = origin, timeout = o.timeout, tls = o.tls,
                    retry = { attempts = 2 }, breaker = false, limit = false }
  -- Validate the internal client's options now, not at the first call.
  local vok, verr = pcall(client_mod()._normalize, o.client_opts)
  if not vok then error((tostring(verr):gsub("^lira.client", "lira.auth.oauth2")), 2) end
  return new_auth("oauth2", "Authorization", "Bearer ", nil,
                  function() return fetch_token(o) end, true)
end

return M
