-- lira.runtime: the Lua half of `lira run` / `lira check` (src/runtime/).
-- INTERNAL: the C runtime calls these in each integration's own lua_State;
-- integration code never needs it (it gets a ctx).
--
--   M.prepare(check)        before the file runs: record every client it
--                           makes (admin, lint); in check mode, lira.config
--                           never raises (a placeholder stands in)
--   M.ctx(spec, stopping)   the ctx every function of the integration gets
--   M.runner                spawned as a task: runner(kind, fn, ctx, report)
--   M.clients()             the clients' breaker/limiter states (admin)
--   M.lint(file, spec)      the seed guide's mistakes `lira check` can see
local lira = require "lira"
local core = require "lira.core"
local config = require "lira.config"

local M = {}

local clients = {}        -- { client = c, opts = opts, line = n }, in creation order
local from_config = {}    -- values lira.config returned (to tell them from literals)

function M.prepare(check)
  local new = lira.client
  lira.client = function(opts)
    local ok, c = pcall(new, opts)
    -- Re-raised at the caller's line (the file's), not this wrapper's.
    if not ok then error((tostring(c):gsub("^[^\n]-runtime%.lua:%d+: ", "")), 2) end
    local info = debug.getinfo(2, "Sl")
    clients[#clients + 1] = { client = c, opts = opts, line = info and info.currentline,
                              source = info and info.short_src }
    return c
  end
  local get = config.get
  local function wrapped(name, ...)
    local ok, v = pcall(get, name, ...)
    if not ok then
      if not check then error(v, 2) end
      v = "http://lira-check.invalid/" .. tostring(name)
    end
    if type(v) == "string" then from_config[v] = true end
    return v
  end
  lira.config = wrapped
end

-- ------------------------------------------------------------------ ctx ---

local function logger(name)
  local log = {}
  for _, lv in ipairs { "debug", "info", "warn", "error" } do
    local f = lira.log[lv]
    log[lv] = function(msg, fields)
      local t = { integration = name }
      if fields ~= nil then
        if type(fields) ~= "table" then
          error(("bad argument #2 to 'ctx.log.%s' (table expected, got %s)"):format(
            lv, type(fields)), 2)
        end
        for k, v in pairs(fields) do t[k] = v end
      end
      return f(msg, t)
    end
  end
  return log
end

-- ctx.state is made on first access: most integrations never touch it, and
-- lira.state loads a module into each integration's Lua state.
local CtxMeta = { __index = function(t, k)
  if k ~= "state" then return nil end
  local st = lira.state(rawget(t, "integration"))
  rawset(t, "state", st)
  return st
end }

function M.ctx(spec, stopping)
  return setmetatable({
    integration = spec.name,
    log = logger(spec.name),
    trace = lira.trace,
    stopping = stopping,
  }, CtxMeta)
end

-- --------------------------------------------------------------- runner ---

local function handler(e)
  local msg
  if type(e) == "string" then
    msg = e
  elseif type(e) == "table" and e.kind then
    msg = tostring(e)
  else
    msg = ("(error object is a %s value)"):format(type(e))
  end
  return { msg = msg, tb = debug.traceback(msg, 2) }
end

-- One run of fn(ctx) as a root span; report(ok, message, traceback) once.
-- The traceback is taken where the error was raised (inside the span), and
-- the message re-raised so that the span ends with an error status. A
-- webhook delivery passes the traceparent/tracestate its sender sent: its
-- span then continues the sender's trace (a CONSUMER span, docs/webhooks.md).
function M.runner(kind, fn, ctx, report, traceparent, tracestate)
  local tb
  local function body()
    local ok2, e = xpcall(fn, handler, ctx)
    if not ok2 then
      if type(e) ~= "table" then e = { msg = tostring(e), tb = tostring(e) } end
      tb = e.tb
      error(e.msg, 0)
    end
  end
  local name = ctx.integration .. " " .. kind
  local ok, err
  if traceparent then
    ok, err = pcall(core.trace_span_remote, name, traceparent, tracestate, body)
  else
    ok, err = pcall(lira.trace.span, name, body)
  end
  if ok then return report(true) end
  return report(false, tostring(err), tb or tostring(err))
end

-- ---------------------------------------------------------------- admin ---

function M.clients()
  local out = {}
  for i, c in ipairs(clients) do
    local b, l = c.client.breaker, c.client.limiter
    local okb, bs = pcall(function() return b and b:state() end)
    local okl, av = pcall(function() return l and l:available() end)
    if not okl or type(av) ~= "number" or av ~= av or av == math.huge then av = nil end
    out[i] = { name = c.client.name, breaker = okb and bs or nil, limiter_tokens = av }
  end
  return out
end

function M.clients_json()
  return core.json_encode(lira.array(M.clients()))
end

-- ----------------------------------------------------------------- lint ---

local function warn(list, line, msg)
  list[#list + 1] = { line = line or 0, msg = msg }
end

local function num(v, default)
  if type(v) == "number" then return v end
  return default
end

local function lint_client(list, c)
  local o, name = c.opts or {}, tostring((c.opts or {}).name)
  if type(o.base_url) == "string" and not from_config[o.base_url] then
    warn(list, c.line, ("client '%s': base_url is a string literal; read it with " ..
      "lira.config(\"...\") so each deployment can point it elsewhere"):format(name))
  end
  if o.version == nil then
    warn(list, c.line, ("client '%s': no pinned API version (version = { header = ..., " ..
      "value = ... } or { path = \"/v1\" })"):format(name))
  end
  if o.fallback == nil then
    warn(list, c.line, ("client '%s': no fallback decided (give one, or fallback = false " ..
      "to say failures surface)"):format(name))
  end
  local t = type(o.timeout) == "table" and o.timeout or {}
  local deadline = t.deadline
  if deadline ~= false then
    deadline = num(deadline, 30)
    for _, k in ipairs { "connect", "read" } do
      local v = num(t[k], k == "connect" and 2 or 10)
      if v > deadline then
        warn(list, c.line, ("client '%s': timeout.%s (%g s) is longer than the deadline " ..
          "(%g s): it can never take effect"):format(name, k, v, deadline))
      end
    end
  end
end

-- The text of a call's argument list from `from` (just after "("): up to
-- the matching ")" (strings and comments are not parsed; a heuristic).
local function call_args(src, from)
  local depth, i = 1, from
  while i <= #src do
    local ch = src:sub(i, i)
    if ch == "(" then depth = depth + 1
    elseif ch == ")" then
      depth = depth - 1
      if depth == 0 then return src:sub(from, i - 1) end
    end
    i = i + 1
  end
  return src:sub(from)
end

local function lint_writes(list, src, retries_off)
  if retries_off then return end
  local pos = 1
  while true do
    local s, e, method = src:find(":(%a+)%s*%(", pos)
    if not s then break end
    pos = e + 1
    if method == "post" or method == "patch" then
      local args = call_args(src, e + 1)
      if not args:find("idempotency_key", 1, true) and not args:find("retry%s*=%s*false") then
        local _, nl = src:sub(1, s):gsub("\n", "")
        warn(list, nl + 1, (":%s(...) is retried on failure but has no idempotency_key: a " ..
          "retry may apply it twice (idempotency_key = true, or retry = false)"):format(method))
      end
    end
  end
end

function M.lint(file, src)
  local list = {}
  local all_off = #clients > 0
  for _, c in ipairs(clients) do
    lint_client(list, c)
    if (c.opts or {}).retry ~= false then all_off = false end
  end
  lint_writes(list, src or "", all_off)
  table.sort(list, function(a, b) return a.line < b.line end)
  return list
end

M.core = core
return M
