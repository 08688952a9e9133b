-- lira.testing's integration layer (docs/testing.md "Integration layer"):
--
--   t.sandbox([opts])        a real `lira sandbox` process on a free 127.0.0.1 port
--   t.runtime(path[, opts])  integration files loaded in-process as `lira run` would
--   t.sign_webhook{...}      headers a provider would send (standard, stripe, github)
--
-- t.runtime reuses the runtime's own Lua half (lira.runtime: prepare, ctx,
-- runner) and lira.integration's validation; what the C runtime does around
-- them (scheduling, the run/failure log lines and counters, the webhook
-- listener) is re-done here in Lua, one step at a time, driven by the spec.
local lira = require "lira"
local core = require "lira.core"
local config = require "lira.config"
local rtmod = require "lira.runtime"
local integration = require "lira.integration"
local sha = require "lira.testing_sha"

local M = {}

local function fail(msg, level)
  error("lira.testing: " .. msg, (level or 1) + 1)
end

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function exists(p)
  local f = io.open(p, "r")
  if f then f:close() return true end
  return false
end

-- ------------------------------------------------------------ sandbox ---

-- The lira binary: $LIRA_BIN, else bin/lira under the prefix lira.testing
-- is installed in (PREFIX/share/lua/5.4/lira/testing.lua), else `lira` on PATH.
function M.find_binary()
  local env = os.getenv("LIRA_BIN")
  if env and env ~= "" then return env end
  local here = package.searchpath("lira.testing", package.path)
  local prefix = here and here:match("^(.*)/share/lua/5%.4/lira/testing%.lua$")
  if prefix and exists(prefix .. "/bin/lira") then return prefix .. "/bin/lira" end
  for dir in (os.getenv("PATH") or ""):gmatch("[^:]+") do
    if exists(dir .. "/lira") then return dir .. "/lira" end
  end
  fail("t.sandbox: cannot find the lira binary: set LIRA_BIN=/path/to/lira, install lira " ..
       "next to this module (PREFIX/bin/lira), or put it on PATH", 3)
end

local Sandbox = { __name = "lira.testing.Sandbox" }
Sandbox.__index = Sandbox

-- Every sandbox not stopped yet (weak: one nobody holds is killed by its
-- own __gc); the rest are killed when the Lua state closes (busted exits
-- with os.exit(code, true)) if the spec forgot to.
local live = setmetatable({}, { __mode = "k" })
local reaper = setmetatable({}, { __gc = function()
  for sb in pairs(live) do pcall(Sandbox.stop, sb) end
end })
M._reaper = reaper

-- A short-lived control client per request: t.reset() replaces the engine,
-- and a client made on the old one would fail. No retry, breaker or limiter,
-- so reading the log never changes what is being tested.
function Sandbox:request(method, path, opts)
  if not self.pipe then fail("sandbox: already stopped", 3) end
  local c = core.client_new { name = "lira-sandbox-control", base_url = self.url, retry = false,
                              breaker = false, limit = false, budget = false }
  local res, err = c:request(method, path, opts)
  c:close()
  if not res then fail(("sandbox: %s %s: %s"):format(method, path, tostring(err)), 3) end
  return res
end

function Sandbox:get_json(path, query)
  local res = self:request("GET", path, { query = query })
  if res.status ~= 200 then fail(("sandbox: GET %s: %d %s"):format(path, res.status, res.body), 2) end
  return res:json()
end

local function fetch(self, since)
  local out = {}
  while true do
    local doc = self:get_json("/_log", { since = since, limit = 4096 })
    for _, e in ipairs(doc.entries) do out[#out + 1] = e end
    if #doc.entries == 0 or doc.last >= doc.newest then
      if doc.last and doc.last > 0 then since = math.max(since, doc.last) end
      return out, since
    end
    since = doc.last
  end
end

-- What the server received since the previous log() or reset() (oldest
-- first), without its own admin paths (/_..., /oauth/_...). opts.all: every
-- entry still held; opts.path: only paths starting with it (a filtered read
-- does not move the position, so several can look at the same window).
function Sandbox:log(opts)
  opts = opts or {}
  local entries, since = fetch(self, opts.all and 0 or self.since)
  if not opts.all and not opts.path then self.since = since end
  local out = {}
  for _, e in ipairs(entries) do
    if not e.path:find("^/_") and not e.path:find("^/oauth/_")
       and (opts.path == nil or e.path:sub(1, #opts.path) == opts.path) then
      out[#out + 1] = e
    end
  end
  return out
end

-- Clear the server's state (log, counters, scenario positions, payments,
-- OAuth2 tokens); log() starts over from here.
function Sandbox:reset()
  for _, p in ipairs { "/_reset", "/oauth/_reset" } do
    local res = self:request("POST", p, { body = "" })
    if res.status ~= 200 then fail(("sandbox: POST %s: %d"):format(p, res.status), 2) end
  end
  self.since = self:get_json("/_log", { since = 0, limit = 1 }).newest or 0
  return self
end

function Sandbox:stop()
  if not self.pipe then return end
  live[self] = nil
  os.execute("kill " .. self.pid .. " 2>/dev/null")
  self.pipe:close()
  self.pipe = nil
  if self.scenario_file then os.remove(self.scenario_file) end
end

Sandbox.__close = Sandbox.stop
Sandbox.__gc = Sandbox.stop
Sandbox.__tostring = function(self) return ("lira.testing.sandbox(%s)"):format(self.url) end

-- A header of a /_log entry, whatever its case.
function M.header(entry, name)
  name = name:lower()
  for k, v in pairs(entry.headers or {}) do
    if k:lower() == name then return v end
  end
end

local SANDBOX_OPTS = { scenario = true, seed = true, args = true }

function M.sandbox(opts)
  opts = opts or {}
  if type(opts) ~= "table" then fail("t.sandbox(opts): opts must be a table", 2) end
  for k in pairs(opts) do
    if not SANDBOX_OPTS[k] then
      fail(("t.sandbox: unknown option '%s' (scenario, seed, args)"):format(tostring(k)), 2)
    end
  end
  local bin = M.find_binary()
  local cmd = { "exec", sh_quote(bin), "sandbox", "--listen", "127.0.0.1:0" }
  local scenario_file
  if opts.scenario ~= nil then
    local sc = opts.scenario
    if type(sc) == "table" then
      scenario_file = os.tmpname()
      local f = assert(io.open(scenario_file, "w"))
      f:write(core.json_encode(sc))
      f:close()
      sc = scenario_file
    elseif type(sc) ~= "string" then
      fail("t.sandbox: scenario must be a table (written to a temp JSON file) or a file path", 2)
    end
    cmd[#cmd + 1] = "--scenario"
    cmd[#cmd + 1] = sh_quote(sc)
  end
  if opts.seed ~= nil then
    cmd[#cmd + 1] = "--seed"
    cmd[#cmd + 1] = sh_quote(opts.seed)
  end
  for _, a in ipairs(opts.args or {}) do cmd[#cmd + 1] = sh_quote(a) end
  -- The shell prints its pid, then becomes the sandbox (exec keeps the pid);
  -- stderr is kept to report why a start failed.
  local errfile = os.tmpname()
  local p = assert(io.popen("echo $$; " .. table.concat(cmd, " ") .. " 2>" .. sh_quote(errfile), "r"))
  local pid = tonumber(p:read("l"))
  local line = p:read("l")
  local url = line and line:match("^listening on (http://[%d%.]+:%d+)$")
  if not (pid and url) then
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    p:close()
    local ef = io.open(errfile, "r")
    local why = ef and ef:read("a") or ""
    if ef then ef:close() end
    os.remove(errfile)
    if scenario_file then os.remove(scenario_file) end
    fail(("t.sandbox: `%s sandbox` did not start: %s"):format(bin,
         why ~= "" and why:gsub("%s+$", "") or tostring(line)), 2)
  end
  os.remove(errfile)
  local sb = setmetatable({ url = url, pid = pid, pipe = p, since = 0, bin = bin,
                            scenario_file = scenario_file }, Sandbox)
  live[sb] = true
  return sb
end

-- ------------------------------------------------------- signing (tests) ---

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function b64encode(s)
  return ((s:gsub(".", function(c)
    local b, r = c:byte(), ""
    for i = 8, 1, -1 do r = r .. ((b >> (i - 1)) & 1) end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local n = 0
    for i = 1, 6 do n = n * 2 + (x:sub(i, i) == "1" and 1 or 0) end
    return B64:sub(n + 1, n + 1)
  end) .. ({ "", "==", "=" })[#s % 3 + 1])
end

local function b64decode(s)
  s = s:gsub("[^%w+/=]", "")
  return (s:gsub("=", ""):gsub(".", function(c)
    local n, r = B64:find(c, 1, true) - 1, ""
    for i = 6, 1, -1 do r = r .. ((n >> (i - 1)) & 1) end
    return r
  end):gsub("%d%d%d?%d?%d?%d?%d?%d?", function(x)
    if #x ~= 8 then return "" end
    return string.char(tonumber(x, 2))
  end))
end

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

-- t.sign_webhook{ scheme, secret, body, id =, timestamp = } -> headers as the
-- provider would send them (standard: webhook-id/-timestamp/-signature;
-- stripe: Stripe-Signature; github: X-Hub-Signature-256 + X-GitHub-Delivery).
function M.sign_webhook(o)
  if type(o) ~= "table" or type(o.secret) ~= "string" or type(o.body) ~= "string" then
    fail("t.sign_webhook{ scheme =, secret = string, body = string, id =, timestamp = }", 2)
  end
  local ts = tostring(o.timestamp or os.time())
  local id = o.id or ("msg_" .. tostring(os.time()) .. tostring(math.random(1e9)))
  if o.scheme == "standard" then
    local key = b64decode((o.secret:gsub("^whsec_", "")))
    local mac = sha.hmac_sha256(key, id .. "." .. ts .. "." .. o.body)
    return { ["webhook-id"] = id, ["webhook-timestamp"] = ts,
             ["webhook-signature"] = "v1," .. b64encode(mac) }
  elseif o.scheme == "stripe" then
    local mac = hex(sha.hmac_sha256(o.secret, ts .. "." .. o.body))
    return { ["Stripe-Signature"] = ("t=%s,v1=%s"):format(ts, mac), ["X-Event-Id"] = id }
  elseif o.scheme == "github" then
    return { ["X-Hub-Signature-256"] = "sha256=" .. hex(sha.hmac_sha256(o.secret, o.body)),
             ["X-GitHub-Delivery"] = id }
  end
  fail("t.sign_webhook: scheme must be standard, stripe or github", 2)
end
M._b64encode, M._b64decode = b64encode, b64decode

-- ------------------------------------------------------------ runtime ---

local Runtime = { __name = "lira.testing.Runtime" }
Runtime.__index = Runtime

-- The files `lira run PATH` would load: a file, or in a folder every *.lua
-- and */init.lua (dot files skipped), sorted.
local function files_of(path)
  local f = io.open(path .. "/.", "r")
  if not f then
    if not exists(path) then fail(("t.runtime: %s: no such file or folder"):format(path), 3) end
    return { path }
  end
  f:close()
  local out = {}
  local p = io.popen("ls -1 " .. sh_quote(path) .. " 2>/dev/null")
  for name in p:lines() do
    if not name:find("^%.") then
      if name:find("%.lua$") then out[#out + 1] = path .. "/" .. name
      elseif exists(path .. "/" .. name .. "/init.lua") then
        out[#out + 1] = path .. "/" .. name .. "/init.lua"
      end
    end
  end
  p:close()
  table.sort(out)
  return out
end

local function counter(name, labels)
  return lira.metrics.counter(name, labels, "lira run: integration events (docs/runtime.md)")
end

-- Load one file in its own globals (the runtime gives each its own
-- lua_State; here modules from `require` are shared with the spec).
local function load_one(self, file)
  local env = setmetatable({}, { __index = _G })
  local chunk, err = loadfile(file, "t", env)
  if not chunk then fail("t.runtime: " .. err, 4) end
  local ok, spec = xpcall(chunk, debug.traceback)
  if not ok then fail(("t.runtime: %s did not load: %s"):format(file, tostring(spec)), 4) end
  if not integration.is(spec) then
    fail(("t.runtime: %s: the file must return lira.integration{...} (it returned a %s)")
         :format(file, type(spec)), 4)
  end
  if self.integrations[spec.name] then
    fail(("t.runtime: %s: integration name '%s' is already used by %s"):format(
      file, spec.name, self.integrations[spec.name].file), 4)
  end
  local it = { name = spec.name, file = file, spec = spec, stopping = false }
  it.ctx = rtmod.ctx(spec, function() return it.stopping end)
  self.integrations[spec.name] = it
  self.order[#self.order + 1] = spec.name
  for route, hook in pairs(spec.webhooks or {}) do
    if self.routes[route] then
      fail(("t.runtime: route %s is declared by both %s and %s"):format(
        route, self.routes[route].it.name, spec.name), 4)
    end
    self.routes[route] = { it = it, hook = hook }
  end
end

local RUNTIME_OPTS = { env = true, state = true, log_level = true, max_attempts = true,
                       backoff = true }

function M.runtime(path, opts)
  opts = opts or {}
  if type(path) ~= "string" then fail("t.runtime(path, opts): path must be a file or folder", 2) end
  for k in pairs(opts) do
    if not RUNTIME_OPTS[k] then
      fail(("t.runtime: unknown option '%s' (env, state, log_level, max_attempts, backoff)")
           :format(tostring(k)), 2)
    end
  end
  local self = setmetatable({ integrations = {}, order = {}, routes = {}, path = path,
                              max_attempts = opts.max_attempts or 10,
                              backoff = opts.backoff or { base = 0.5, cap = 300 } }, Runtime)
  -- A failure from here on (no such file, a file that does not load, no
  -- integration) undoes what was set up — temp files, the log, lira.config,
  -- package.path — and the error keeps its level.
  local undo <close> = setmetatable({}, { __close = function(_, err)
    if err ~= nil then self:close() end
  end })
  -- The store: a fresh temp file per runtime (LIRA_STATE), unless given.
  self.state_path = opts.state or os.tmpname()
  self.own_state = opts.state == nil
  core.store_open(self.state_path)
  -- Logs: JSON lines to a temp file, read back by rt:logs().
  self.log_path = os.tmpname()
  local ok, err = lira.log.configure { file = self.log_path, format = "json",
                                       level = opts.log_level or "debug" }
  if not ok then fail("t.runtime: " .. tostring(err), 2) end
  -- lira.config: opts.env first, then the environment.
  local env, getenv = opts.env or {}, config.getenv
  self.saved_getenv = getenv
  config.getenv = function(name)
    local v = env[name]
    if v ~= nil then return tostring(v) end
    return getenv(name)
  end
  if not rawget(lira, "_testing_prepared") then
    rtmod.prepare(false)
    rawset(lira, "_testing_prepared", true)
  end
  local files = files_of(path)
  local dir = (path:match("^(.*)/[^/]*%.lua$")) or path
  self.saved_path = package.path
  package.path = dir .. "/?.lua;" .. dir .. "/?/init.lua;" .. package.path
  for _, f in ipairs(files) do load_one(self, f) end
  if #self.order == 0 then fail(("t.runtime: no integration file in %s"):format(path), 2) end
  return self
end

function Runtime:_get(name, level)
  if name == nil then
    if #self.order ~= 1 then
      fail(("several integrations are loaded (%s): name the one you mean")
           :format(table.concat(self.order, ", ")), level + 1)
    end
    name = self.order[1]
  end
  local it = self.integrations[name]
  if not it then
    fail(("no integration named '%s' (loaded: %s)"):format(tostring(name),
         table.concat(self.order, ", ")), level + 1)
  end
  return it
end

-- Run kind ("run" = sync, "start", "stop") once, as a task, as the runtime
-- does (a root span "<name> <kind>", the error logged and counted).
local FN = { run = "sync", start = "start", stop = "stop" }

function Runtime:_run(kind, name)
  local it = self:_get(name, 3)
  local fn = it.spec[FN[kind]]
  if not fn then fail(("integration '%s' has no %s function"):format(it.name, FN[kind]), 3) end
  local result
  local task = lira.spawn(rtmod.runner, kind, fn, it.ctx, function(ok, msg, tb)
    result = { ok = ok, msg = msg, tb = tb }
  end)
  local tok, terr = task:join()
  if not tok then result = { ok = false, msg = tostring(terr), tb = tostring(terr) } end
  if not result.ok then
    lira.log.error("integration: " .. kind .. " failed",
                   { integration = it.name, error = result.msg, traceback = result.tb })
    if kind == "run" then
      counter("lira_integration_runs_total", { integration = it.name, result = "error" }):inc()
    end
    return nil, result.msg, result.tb
  end
  if kind == "run" then
    counter("lira_integration_runs_total", { integration = it.name, result = "ok" }):inc()
  end
  return true
end

-- rt:sync([name]) -> true | nil, message, traceback
function Runtime:sync(name) return self:_run("run", name) end

-- rt:stop([name]): ctx.stopping() turns true, then stop(ctx) runs once.
function Runtime:stop(name)
  local it = self:_get(name, 2)
  it.stopping = true
  if it.spec.stop then return self:_run("stop", it.name) end
  return true
end

function Runtime:ctx(name) return self:_get(name, 2).ctx end
function Runtime:spec(name) return self:_get(name, 2).spec end
function Runtime:state(name) return lira.state(self:_get(name, 2).name) end
function Runtime:checkpoint(name) return lira.checkpoint(name) end

-- The JSON log lines written since this runtime started that have every
-- field of `filter` equal (msg = "orders synced", level = "warn", ...), or
-- for which filter(line) is true.
function Runtime:logs(filter)
  local f = io.open(self.log_path, "r")
  local out = {}
  if not f then return out end
  for line in f:lines() do
    local ok, doc = pcall(core.json_decode, line)
    if ok and type(doc) == "table" then
      local keep = true
      if type(filter) == "function" then keep = filter(doc)
      elseif type(filter) == "table" then
        for k, v in pairs(filter) do
          if doc[k] ~= v then keep = false break end
        end
      end
      if keep then out[#out + 1] = doc end
    end
  end
  f:close()
  return out
end

function Runtime:metrics() return lira.metrics.snapshot() end
function Runtime:metrics_text() return lira.metrics.text() end

-- The value of one series: rt:metric("lira_integration_runs_total",
-- { integration = "orders", result = "ok" }) -> number (0 when absent).
function Runtime:metric(name, labels)
  local m = lira.metrics.snapshot()[name]
  if not m then return 0 end
  for _, s in ipairs(m.series or {}) do
    local match = true
    for k, v in pairs(labels or {}) do
      if (s.labels or {})[k] ~= v then match = false break end
    end
    if match then return s.value or s.count or 0 end
  end
  return 0
end

-- ---------------------------------------------------------- webhooks ---

require("lira.testing_webhook").install(Runtime, M, fail)

function Runtime:close()
  if self.closed then return end
  self.closed = true
  for _, name in ipairs(self.order) do self.integrations[name].stopping = true end
  if self.saved_getenv then config.getenv = self.saved_getenv end
  if self.saved_path then package.path = self.saved_path end
  lira.log.configure {}
  pcall(core.store_close)
  if self.log_path then os.remove(self.log_path) end
  if self.own_state then
    for _, sfx in ipairs { "", "-wal", "-shm", "-journal" } do os.remove(self.state_path .. sfx) end
  end
end
Runtime.__close = Runtime.close
Runtime.__tostring = function(self)
  return ("lira.testing.runtime(%s: %s)"):format(self.path, table.concat(self.order, ", "))
end

return M
