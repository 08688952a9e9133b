-- lira.testing: unit and contract tests for integrations (LUA-API.md §10,
-- docs/testing.md). Plain busted in a Lua 5.4 host, no special runner.
--
--   t.reset{ clock = true }   a fresh engine for this test (virtual time)
--   t.clock()                 virtual time; clock:now(), clock:advance(s)
--   t.mock(client, routes)    scripted responses under the real call pipeline
--   t.cassette(path, mode)    record real interactions / replay them offline
--   t.shape(value, shape)     every path of a decoded body that no longer fits
--   t.sandbox([opts])         a real `lira sandbox` on a free port (integration layer)
--   t.runtime(path[, opts])   integration files loaded in-process as `lira run` would
--
-- The scripted responses are served by a transport that lira.testing puts
-- under this state's engine (src/lua/lua_testing*.c): retries, breakers,
-- limiters, deadlines, auth and fallbacks run exactly as in production; only
-- the bytes on the wire are made up. Requests no mock or cassette covers go
-- to the real network.
local core = require "lira.core"
local client_mod = require "lira.client"
local shape = require "lira.testing_shape"

local C = core.testing
local M = {}

-- ------------------------------------------------------------ helpers ---

local function fail(msg, level)
  error("lira.testing: " .. msg, (level or 1) + 1)
end

local function url_decode(s)
  return (s:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- "scheme://host:port/prefix/path?query" -> path, query string (or nil)
local function split_url(url)
  local rest = url:match("^%a[%w+.-]*://[^/?#]*(.*)$") or url
  rest = rest:gsub("#.*$", "")
  local path, query = rest:match("^([^?]*)%?(.*)$")
  if not path then path = rest end
  if path == "" then path = "/" end
  return path, query
end
M._split_url = split_url

local function parse_query(q)
  local out = {}
  if not q or q == "" then return out end
  for part in q:gmatch("[^&]+") do
    local k, v = part:match("^([^=]*)=(.*)$")
    k, v = url_decode(k or part), url_decode(v or "")
    local prev = out[k]
    if prev == nil then out[k] = v
    elseif type(prev) == "table" then prev[#prev + 1] = v
    else out[k] = { prev, v } end
  end
  return out
end
M._parse_query = parse_query

-- Headers read case-insensitively: h["idempotency-key"] == h["Idempotency-Key"].
local Headers = {}
Headers.__index = function(h, k)
  if type(k) == "string" then return rawget(h, k:lower()) end
end

local function headers_of(lines)
  local h = setmetatable({}, Headers)
  for _, line in ipairs(lines or {}) do
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then
      local k = name:lower()
      local prev = rawget(h, k)
      rawset(h, k, prev and (prev .. ", " .. value) or value)
    end
  end
  return h
end
M._headers_of = headers_of

-- The base URL a client, a name or a URL stands for (nil: not known yet).
local known_clients = {}   -- name -> base_url, for clients made after this module loaded

local function scope_of(target)
  if type(target) == "table" and type(target.base_url) == "string" then
    return target.base_url, target.name
  end
  if type(target) == "string" then
    if target:find("^https?://") then return target, target end
    return known_clients[target], target
  end
  return nil
end

-- Remember each client's base_url by name, so that t.mock("orders", ...)
-- finds a client the integration creates itself (even after the mock).
local pending = {}          -- name -> { mock, ... } waiting for that client
local orig_new = client_mod.new
local function tracked_new(opts)
  local ok, c = pcall(orig_new, opts)
  if not ok then
    -- Blame the caller, as lira.client does, not this wrapper.
    error((tostring(c):gsub("^[^:\n]*testing%.lua:%d+: ", "")), 2)
  end
  known_clients[c.name] = c.base_url
  local waiting = pending[c.name]
  pending[c.name] = nil
  for _, m in ipairs(waiting or {}) do m:_bind(c.base_url) end
  return c
end
client_mod.new = tracked_new
do
  local ok, lira = pcall(require, "lira")
  if ok and type(lira) == "table" and lira.client == orig_new then lira.client = tracked_new end
end

-- ------------------------------------------------------------ engine ---

local live_mocks = setmetatable({}, { __mode = "k" })
local the_clock

local Clock = { __name = "lira.testing.Clock" }
Clock.__index = Clock
function Clock:now() return core.now() end
function Clock:advance(seconds)
  if type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 then
    fail("clock:advance(seconds) needs a number >= 0", 2)
  end
  C.advance(seconds)
  return core.now()
end
Clock.__tostring = function() return ("lira.testing.clock(%.6f s)"):format(core.now()) end

-- t.clock(): switch this state's engine to virtual time.
function M.clock()
  if not C.is_virtual() then core._use_virtual_clock() end
  the_clock = the_clock or setmetatable({}, Clock)
  return the_clock
end

-- t.reset{ clock = true|false }: a fresh engine (every mock, cassette,
-- breaker and limiter state gone); returns the clock when virtual.
function M.reset(opts)
  opts = opts or {}
  for m in pairs(live_mocks) do m:_detach() end
  pending = {}
  local ok, err = pcall(core._reset_engine, opts.clock and true or false)
  if not ok then
    fail(tostring(err):gsub("^lira: _reset_engine: ", "") ..
         " (t.reset needs every task finished: join them in the test)", 2)
  end
  if opts.clock then return M.clock() end
end

-- ------------------------------------------------------------- mocks ---

local KINDS = { timeout = true, connect = true, dns = true, tls = true, transport = true }
local STEP_KEYS = { status = true, headers = true, json = true, body = true, delay = true,
                    error = true, message = true, ["repeat"] = true, hang = true }

local function is_step(v)
  if next(v) == nil then return true end
  for k in pairs(v) do if STEP_KEYS[k] then return true end end
  return false
end

local function header_lines(h, where)
  local lines, names, has_ct = {}, {}, false
  for k in pairs(h or {}) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local v = h[k]
    if type(k) ~= "string" or not k:find("^[%w!#$%%&'*+%-.^_`|~]+$") then
      fail(("%s: bad header name %s"):format(where, tostring(k)), 4)
    end
    if type(v) == "number" then v = tostring(v) end
    local vals = type(v) == "table" and v or { v }
    for _, x in ipairs(vals) do
      if type(x) ~= "string" or x:find("[\r\n]") then
        fail(("%s: header %s needs a string value"):format(where, k), 4)
      end
      lines[#lines + 1] = k .. ": " .. x
    end
    if k:lower() == "content-type" then has_ct = true end
  end
  return lines, has_ct
end

-- A user step -> what core.testing.mock_push takes.
local function norm_step(s, where)
  if type(s) ~= "table" then fail(where .. ": a step must be a table like { status = 200 }", 3) end
  for k in pairs(s) do
    if not STEP_KEYS[k] then
      fail(("%s: unknown step field '%s' (status, headers, json, body, delay, error, " ..
            "message, repeat, hang)"):format(where, tostring(k)), 3)
    end
  end
  local st = { status = s.status or 200, message = s.message }
  if math.type(st.status) ~= "integer" or st.status < 100 or st.status > 999 then
    fail(where .. ": status must be an integer 100..999", 3)
  end
  if s.error ~= nil then
    if not KINDS[s.error] then
      fail(("%s: error must be one of timeout, connect, dns, tls, transport (got %s)")
           :format(where, tostring(s.error)), 3)
    end
    st.error = s.error
  end
  if s.delay ~= nil and (type(s.delay) ~= "number" or not (s.delay >= 0)) then
    fail(where .. ": delay must be seconds >= 0", 3)
  end
  st.delay = s.hang and -1 or s.delay
  local has_ct
  st.headers, has_ct = header_lines(s.headers, where)
  if s.json ~= nil then
    if s.body ~= nil then fail(where .. ": give json or body, not both", 3) end
    st.body = core.json_encode(s.json)
    if not has_ct then table.insert(st.headers, 1, "Content-Type: application/json") end
  elseif s.body ~= nil then
    if type(s.body) ~= "string" then fail(where .. ": body must be a string (or use json =)", 3) end
    st.body = s.body
  end
  local rep = s["repeat"]
  if rep ~= nil and rep ~= true and (math.type(rep) ~= "integer" or rep < 1) then
    fail(where .. ": repeat must be an integer >= 1 or true", 3)
  end
  return st, rep
end

-- "GET /orders/{id}" -> method, path; "/x" -> nil, "/x"
local function parse_route(key)
  if type(key) ~= "string" then fail("a route is a string like \"GET /orders/{id}\"", 4) end
  local method, path = key:match("^(%u+)%s+(/%S*)$")
  if not method then path = key:match("^(/%S*)$") end
  if not path then
    fail(("bad route %q: write it as \"METHOD /path\" (a {name} matches one segment, " ..
          "a trailing * the rest)"):format(key), 4)
  end
  return method, path
end

-- More literal segments first, then method-specific, then by name: a
-- route table's order is not the source's, so this makes it deterministic.
local function route_rank(key)
  local method, path = parse_route(key)
  local literal, wild = 0, 0
  for seg in path:gmatch("[^/]+") do
    if seg == "*" then wild = wild + 1
    elseif not seg:find("^{.*}$") then literal = literal + 1 end
  end
  return { -wild, literal, method and 1 or 0, key }
end

local function ordered_routes(routes)
  local list = {}
  if routes[1] ~= nil then
    for i, r in ipairs(routes) do
      if type(r) ~= "table" or type(r[1]) ~= "string" then
        fail(("routes[%d] must be { \"METHOD /path\", steps }"):format(i), 3)
      end
      list[#list + 1] = { r[1], r[2] }
    end
    return list
  end
  local keys = {}
  for k in pairs(routes) do keys[#keys + 1] = k end
  local rank = {}
  for _, k in ipairs(keys) do rank[k] = route_rank(k) end
  table.sort(keys, function(a, b)
    local x, y = rank[a], rank[b]
    for i = 1, 3 do if x[i] ~= y[i] then return x[i] > y[i] end end
    return x[4] < y[4]
  end)
  for _, k in ipairs(keys) do list[#list + 1] = { k, routes[k] } end
  return list
end

local Mock = { __name = "lira.testing.Mock" }

-- Push one route's steps; the last one repeats for ever unless strict.
local function push_route(id, index, label, steps, strict)
  if type(steps) ~= "table" then fail(("route %s: steps must be a table"):format(label), 4) end
  if is_step(steps) or (#steps == 0 and next(steps) ~= nil) then steps = { steps } end
  if #steps == 0 then fail(("route %s has no steps"):format(label), 4) end
  for i, s in ipairs(steps) do
    local where = ("route %s, step %d"):format(label, i)
    local st, rep = norm_step(s, where)
    if rep == true or (i == #steps and not strict) then
      if rep == true and i < #steps then
        fail(where .. ": repeat = true serves it for ever, so the steps after it are never reached", 4)
      end
      for _ = 2, (math.type(rep) == "integer" and rep or 1) do C.mock_push(id, index, st) end
      st.forever = true
      C.mock_push(id, index, st)
      break
    end
    for _ = 1, (rep or 1) do C.mock_push(id, index, st) end
  end
end

function Mock:_bind(base_url)
  self.scope = base_url
  self._id = C.mock_new(self.label, base_url, self._redact)
  self._routes = {}
  for _, r in ipairs(self._route_list) do
    local method, path = parse_route(r[1])
    local index = C.mock_route(self._id, method, path)
    self._routes[index] = r[1]
    push_route(self._id, index, r[1], r[2], self.strict)
  end
end

-- The engine was reset: keep what was recorded, stop reading C.
function Mock:_detach()
  if self._id then self:_sync() end
  self._dead = true
end

local function call_of(self, rec)
  local path, query = split_url(rec.url)
  local prefix = self.scope and select(1, split_url(self.scope)) or ""
  prefix = prefix:gsub("/+$", "")
  if prefix ~= "" and path:sub(1, #prefix) == prefix then
    path = path:sub(#prefix + 1)
    if path == "" then path = "/" end
  end
  local c = {
    method = rec.method, url = rec.url, path = path, query = parse_query(query),
    query_string = query, headers = headers_of(rec.headers), body = rec.body, at = rec.at,
    done = rec.done, done_at = rec.done_at, status = rec.status, failure = rec.failure,
    route = rec.route and self._routes[rec.route] or nil,
    unmatched = rec.route == nil or nil, message = rec.message,
  }
  if c.body and c.body:find("^%s*[%[{]") then
    local ok, v = pcall(core.json_decode, c.body)
    if ok then c.json = v end
  end
  return c
end

function Mock:_sync()
  if self._dead or not self._id then return self._calls end
  local calls = self._calls
  local from = self._pending or (#calls + 1)
  local recs = C.mock_calls(self._id, from)
  if not recs then self._dead = true return calls end
  self._pending = nil
  for i = from, #recs do
    calls[i] = call_of(self, recs[i])
    if not recs[i].done and not self._pending then self._pending = i end
  end
  return calls
end

Mock.__index = function(self, k)
  if k == "calls" then return Mock._sync(self) end
  return Mock[k]
end

Mock.__tostring = function(self)
  return ("lira.testing.mock(%s)"):format(self.label)
end

-- Calls that went to one route ("GET /orders/{id}"), in order.
function Mock:calls_to(route)
  local out = {}
  for _, c in ipairs(self.calls) do
    if c.route == route then out[#out + 1] = c end
  end
  return out
end

-- Requests no route took (each with .message naming the routes).
function Mock:unmatched()
  local out = {}
  for _, c in ipairs(self.calls) do
    if c.unmatched then out[#out + 1] = c end
  end
  return out
end

-- Fail (as a test assertion) unless every request matched and every
-- scripted step was served at least once.
function Mock:assert_done()
  local problems = {}
  for _, c in ipairs(self:unmatched()) do
    problems[#problems + 1] = ("unmatched %s %s: %s"):format(c.method, c.path, c.message or "")
  end
  local routes = (not self._dead and self._id) and C.mock_routes(self._id) or {}
  for _, r in ipairs(routes) do
    if r.finite_left > 0 or (r.forever and r.forever_served == 0) then
      local left = r.finite_left + (r.forever and 1 or 0)
      problems[#problems + 1] = ("route %s: %d scripted response%s never served (%d request%s came)")
        :format(r.label, left, left == 1 and " was" or "s were", r.served,
                r.served == 1 and "" or "s")
    end
  end
  if self.scope == nil and not self._id then
    problems[#problems + 1] = ("no client named '%s' was created"):format(self.label)
  end
  if #problems > 0 then
    error(("lira.testing: mock '%s' is not done:\n  %s"):format(self.label,
          table.concat(problems, "\n  ")), 2)
  end
  return true
end

-- Stop serving: requests go to the real network (or an older mock) again.
function Mock:restore()
  if self._id and not self._dead then
    self:_sync()
    C.mock_stop(self._id)
  end
  if self.scope == nil and pending[self.label] then
    for i, m in ipairs(pending[self.label]) do
      if m == self then table.remove(pending[self.label], i) break end
    end
  end
  self._dead = true
end

local MOCK_OPTS = { strict = true }

local function new_mock(target, routes, opts, redact, label)
  if type(routes) ~= "table" then fail("t.mock(client, routes): routes must be a table", 3) end
  opts = opts or {}
  for k in pairs(opts) do
    if not MOCK_OPTS[k] then fail(("t.mock: unknown option '%s' (strict)"):format(tostring(k)), 3) end
  end
  local base, name = scope_of(target)
  if target ~= nil and name == nil then
    fail("t.mock(client, routes): client must be a lira client, a client name or a base URL", 3)
  end
  local m = setmetatable({ label = label or name or "*", strict = opts.strict or false,
                           _redact = redact, _calls = {},
                           _route_list = ordered_routes(routes) }, Mock)
  for _, r in ipairs(m._route_list) do parse_route(r[1]) end
  live_mocks[m] = true
  if target == nil or base then
    m:_bind(base)
  else
    pending[name] = pending[name] or {}
    table.insert(pending[name], m)
  end
  return m
end
M._new_mock = new_mock

-- t.mock(client | name | base_url, routes[, { strict = true }]) -> mock
function M.mock(target, routes, opts)
  if target == nil then fail("t.mock(client, routes): which client? (a client, its name or a base URL)", 2) end
  return new_mock(target, routes, opts, false)
end

-- ------------------------------------------------------------ shapes ---

M.optional = shape.optional
M.nullable = shape.nullable
M.array_of = shape.array_of
M.one_of = shape.one_of
M.equal = shape.equal
M.check_shape = shape.check
M.shape = shape.assert

-- ---------------------------------------------------------- cassettes ---

function M.cassette(path, mode, opts)
  return require("lira.testing_cassette").open(M, path, mode, opts)
end

-- ------------------------------------------------- integration layer ---
-- lira/testing_integration.lua: t.sandbox, t.runtime, t.sign_webhook.

function M.sandbox(opts)
  return require("lira.testing_integration").sandbox(opts)
end

function M.runtime(path, opts)
  return require("lira.testing_integration").runtime(path, opts)
end

-- The value of a header of a sandbox /_log entry, whatever its case.
function M.header(entry, name)
  return require("lira.testing_integration").header(entry, name)
end

function M.sign_webhook(o)
  return require("lira.testing_integration").sign_webhook(o)
end

M._scope_of = scope_of
M._C = C

return M
