-- lira.testing's cassettes (t.cassette, docs/testing.md "Contract layer"):
-- record real interactions into a readable JSON file with the secrets taken
-- out, and replay them offline through the same scripted transport as
-- t.mock. Recording observes the real transport in C (every attempt, with
-- what the server really answered), never the Lua side.
local core = require "lira.core"

local C = core.testing
local M = {}

local REDACTED = "REDACTED"
local ARRAY_MT = getmetatable(core.array())

-- Body fields whose values are secret wherever they appear (JSON keys at
-- any depth, form fields), compared case-insensitively; opts.redact adds more.
local SECRET_FIELDS = {
  "access_token", "refresh_token", "id_token", "client_secret", "password", "secret",
  "api_key", "apikey", "token", "assertion", "code_verifier",
}

-- Response headers that describe the bytes on the wire, which a replay
-- rebuilds itself.
local WIRE_HEADERS = { ["content-length"] = true, ["transfer-encoding"] = true,
                       ["content-encoding"] = true, ["connection"] = true,
                       ["keep-alive"] = true, ["date"] = true }

local function fail(msg, level)
  error("lira.testing: " .. msg, (level or 1) + 1)
end

-- ------------------------------------------------------- pretty JSON ---

local function is_array(v)
  if getmetatable(v) == ARRAY_MT then return true end
  local n = #v
  if n == 0 then return false end
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
  end
  return true
end

-- Stable, indented JSON: object keys sorted, two spaces per level.
local function pretty(v, indent, out)
  local t = type(v)
  if t ~= "table" then
    out[#out + 1] = core.json_encode(v)
    return
  end
  local pad = indent .. "  "
  if is_array(v) then
    if #v == 0 then out[#out + 1] = "[]" return end
    out[#out + 1] = "[\n"
    for i = 1, #v do
      out[#out + 1] = pad
      pretty(v[i], pad, out)
      out[#out + 1] = i < #v and ",\n" or "\n"
    end
    out[#out + 1] = indent .. "]"
    return
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  if #keys == 0 then out[#out + 1] = "{}" return end
  table.sort(keys)
  out[#out + 1] = "{\n"
  for i, k in ipairs(keys) do
    out[#out + 1] = pad .. core.json_encode(k) .. ": "
    local x = v[k]
    if x == nil then x = v[tonumber(k)] end
    pretty(x, pad, out)
    out[#out + 1] = i < #keys and ",\n" or "\n"
  end
  out[#out + 1] = indent .. "}"
end

function M.pretty(v)
  local out = {}
  pretty(v, "", out)
  return table.concat(out)
end

-- ---------------------------------------------------------- redaction ---

-- Every string a secret was found in is remembered, and at the end every
-- occurrence of it anywhere in the cassette is replaced: a token echoed in
-- a response body is caught too.
local Redactor = {}
Redactor.__index = Redactor

local function new_redactor(opts)
  local r = setmetatable({ fields = {}, headers = {}, secrets = {} }, Redactor)
  for _, f in ipairs(SECRET_FIELDS) do r.fields[f] = true end
  for _, f in ipairs(opts.redact or {}) do r.fields[tostring(f):lower()] = true end
  for _, h in ipairs(opts.redact_headers or {}) do r.headers[#r.headers + 1] = h end
  for _, s in ipairs(opts.secrets or {}) do r:secret(s) end
  return r
end

function Redactor:secret(v)
  if type(v) == "string" and #v >= 4 and v ~= REDACTED then self.secrets[v] = true end
end

function Redactor:header(name, value)
  if not C.header_is_secret(name, self.headers) then return value end
  self:secret(value)
  -- "Bearer abc", "Basic xyz": the credential alone may show up elsewhere.
  local cred = value:match("^%S+%s+(%S+)$")
  if cred then self:secret(cred) end
  local cookie = value:match("^[^=;%s]+=%s*([^;]*)")   -- "sid=abc; Path=/"
  if cookie then self:secret(cookie) end
  return REDACTED
end

function Redactor:url(url)
  local red = core.redact_url(url)
  -- Learn the values redact_url hid (query tokens, userinfo).
  local function params(u)
    local out = {}
    for k, v in (u:match("%?([^#]*)") or ""):gmatch("([^&=]+)=([^&]*)") do out[#out + 1] = { k, v } end
    return out
  end
  local a, b = params(url), params(red)
  for i, p in ipairs(a) do
    if b[i] and b[i][2] == REDACTED and p[2] ~= REDACTED then self:secret(p[2]) end
  end
  local userinfo = url:match("^%a[%w+.-]*://([^/?#]*)@")
  if userinfo then
    self:secret(userinfo)
    for part in userinfo:gmatch("[^:]+") do self:secret(part) end
  end
  return red
end

function Redactor:json(v)
  if type(v) ~= "table" then return v end
  for k, x in pairs(v) do
    if type(k) == "string" and (self.fields[k:lower()] or C.header_is_secret(k, self.headers)) and
       type(x) ~= "table" then
      if type(x) == "string" then self:secret(x) end
      v[k] = REDACTED
    else
      self:json(x)
    end
  end
  return v
end

function Redactor:form(body)
  return (body:gsub("([^&=]+)=([^&]*)", function(k, v)
    local name = k:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    if self.fields[name:lower()] then
      self:secret(v)
      return k .. "=" .. REDACTED
    end
  end))
end

-- A body: decoded JSON when it is JSON, form fields redacted when it is a
-- form, else as text. Returns the field name ("json" or "body") and value.
function Redactor:body(text, content_type)
  if text == nil or text == "" then return nil end
  if text:find("^%s*[%[{]") then
    local ok, v = pcall(core.json_decode, text)
    if ok and type(v) == "table" then return "json", self:json(v) end
  end
  if (content_type or ""):find("x%-www%-form%-urlencoded") then return "body", self:form(text) end
  return "body", text
end

-- Replace every remembered secret in every string of v (longest first, so
-- that a secret containing another is taken whole).
function Redactor:scrub(v)
  local list = {}
  for s in pairs(self.secrets) do list[#list + 1] = s end
  table.sort(list, function(a, b) return #a > #b end)
  local function walk(x)
    if type(x) == "string" then
      for _, s in ipairs(list) do
        local i = 1
        while true do
          local a, b = x:find(s, i, true)
          if not a then break end
          x = x:sub(1, a - 1) .. REDACTED .. x:sub(b + 1)
          i = a + #REDACTED
        end
      end
      return x
    end
    if type(x) ~= "table" then return x end
    local out = {}
    for k, y in pairs(x) do out[walk(k)] = walk(y) end
    return setmetatable(out, getmetatable(x))
  end
  return walk(v)
end

-- --------------------------------------------------------- recording ---

local function header_map(lines, red, skip)
  local h, ct = {}, nil
  for _, line in ipairs(lines or {}) do
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name and not (skip and skip[name:lower()]) then
      value = red:header(name, value)
      if name:lower() == "content-type" then ct = value end
      local prev = h[name]
      if prev == nil then h[name] = value
      elseif type(prev) == "table" then prev[#prev + 1] = value
      else h[name] = setmetatable({ prev, value }, ARRAY_MT) end
    end
  end
  return h, ct
end

local function relative(t, url, scope_path)
  local path, query = t._split_url(url)
  if scope_path ~= "" and path:sub(1, #scope_path) == scope_path then
    path = path:sub(#scope_path + 1)
    if path == "" then path = "/" end
  end
  return path, query
end

local function interaction(t, cap, red, scope_path, t0)
  local url = red:url(cap.url)
  local path, query = relative(t, url, scope_path)
  local req = { method = cap.method, url = url, path = path, query = query }
  local ct
  req.headers, ct = header_map(cap.headers, red)
  local k, v = red:body(cap.body, ct)
  if k then req[k] = v end
  local res
  if cap.failure then
    res = { error = cap.failure, message = cap.error }
  else
    res = { status = cap.status }
    res.headers, ct = header_map(cap.response_headers, red, WIRE_HEADERS)
    k, v = red:body(cap.response_body, ct)
    if k then res[k] = v end
  end
  return { at = math.floor((cap.at - t0) * 1e6 + 0.5) / 1e6, request = req, response = res }
end

-- ----------------------------------------------------------- replaying ---

-- An interaction's response as a t.mock step.
local function step_of(res, where)
  if res.error then
    return { error = res.error, message = res.message }
  end
  local headers = {}
  for k, v in pairs(res.headers or {}) do
    if not WIRE_HEADERS[k:lower()] then headers[k] = v end
  end
  local s = { status = res.status, headers = headers }
  if res.json ~= nil then
    s.body = core.json_encode(res.json)
  elseif res.body ~= nil then
    s.body = res.body
  end
  if math.type(s.status) ~= "integer" then fail(where .. ": response has no status", 4) end
  return s
end

local function replay_routes(doc, path)
  local routes, order = {}, {}
  for i, it in ipairs(doc.interactions or {}) do
    local req, res = it.request, it.response
    if type(req) ~= "table" or type(res) ~= "table" then
      fail(("%s: interaction %d needs request and response"):format(path, i), 3)
    end
    local key = ("%s %s?%s"):format(req.method, req.path, req.query or "")
    if not routes[key] then
      routes[key] = {}
      order[#order + 1] = key
    end
    table.insert(routes[key], step_of(res, ("%s: interaction %d"):format(path, i)))
  end
  local list = {}
  for _, key in ipairs(order) do list[#list + 1] = { key, routes[key] } end
  return list
end

-- ------------------------------------------------------------ cassette ---

local Cassette = { __name = "lira.testing.Cassette" }
Cassette.__index = Cassette

local OPTS = { client = true, redact = true, redact_headers = true, secrets = true, strict = true }

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function M.open(t, path, mode, opts)
  if type(path) ~= "string" or path == "" then fail("t.cassette(path, mode): path must be a file name", 3) end
  mode = mode or os.getenv("LIRA_CASSETTE") or "replay"
  if mode ~= "record" and mode ~= "replay" then
    fail(("t.cassette: mode must be \"record\" or \"replay\" (got %s)"):format(tostring(mode)), 3)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if not OPTS[k] then
      fail(("t.cassette: unknown option '%s' (client, redact, redact_headers, secrets, strict)")
           :format(tostring(k)), 3)
    end
  end
  local scope
  if opts.client ~= nil then
    scope = t._scope_of(opts.client)
    if not scope then fail("t.cassette: option client must be a lira client, a known client name or a base URL", 3) end
  end
  local c = setmetatable({ path = path, mode = mode, opts = opts, scope = scope }, Cassette)
  if mode == "record" then
    c._rec = C.rec_new(scope)
    c._t0 = core.now()
    c._t = t
  else
    local text = read_file(path)
    if not text then
      fail(("cassette %s not found: record it once with LIRA_CASSETTE=record (against the " ..
            "real API or `lira sandbox`)"):format(path), 3)
    end
    local ok, doc = pcall(core.json_decode, text)
    if not ok or type(doc) ~= "table" then fail(("cassette %s is not valid JSON: %s"):format(path, tostring(doc)), 3) end
    c.interactions = doc.interactions or {}
    c.mock = t._new_mock(scope, replay_routes(doc, path), { strict = opts.strict }, true,
                         "cassette " .. path)
  end
  return c
end

-- The interactions recorded so far, redacted (record mode).
function Cassette:recorded()
  local caps = C.rec_take(self._rec) or {}
  local red = new_redactor(self.opts)
  local scope_path = self.scope and (self._t._split_url(self.scope)):gsub("/+$", "") or ""
  local list = setmetatable({}, ARRAY_MT)
  for _, cap in ipairs(caps) do
    if cap.done then list[#list + 1] = interaction(self._t, cap, red, scope_path, self._t0) end
  end
  return red:scrub(list)
end

-- Stop recording or replaying; a recording is written to the file.
function Cassette:eject()
  if self._ejected then return self end
  self._ejected = true
  if self.mode == "record" then
    local doc = { ["lira.cassette"] = 1, interactions = self:recorded() }
    C.rec_stop(self._rec)
    local f, err = io.open(self.path, "wb")
    if not f then fail(("cannot write cassette %s: %s"):format(self.path, err), 2) end
    f:write(M.pretty(doc), "\n")
    f:close()
    self.interactions = doc.interactions
  else
    self.mock:restore()
  end
  return self
end

-- Replay: every request was in the cassette (the mock's assert_done,
-- without requiring every interaction to be used).
function Cassette:assert_all_matched()
  if self.mode ~= "replay" then return true end
  local bad = self.mock:unmatched()
  if #bad > 0 then
    local lines = {}
    for _, b in ipairs(bad) do lines[#lines + 1] = ("%s %s%s"):format(b.method, b.path,
      b.query_string and ("?" .. b.query_string) or "") end
    error(("lira.testing: cassette %s has no interaction for:\n  %s"):format(self.path,
          table.concat(lines, "\n  ")), 2)
  end
  return true
end

function Cassette:calls() return self.mode == "replay" and self.mock.calls or self:recorded() end

return M
