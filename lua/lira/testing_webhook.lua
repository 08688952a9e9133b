-- t.runtime's webhook delivery (docs/testing.md "Delivering a webhook"):
-- the steps of the runtime's receiving side, in order, in-process:
--
--   verify (lira.webhook.verify with the route's verify table; 401, nothing stored)
--   -> event id ("header:NAME" / "json:a.b"; missing: 400)
--   -> the durable inbox of the store (a duplicate id: 200, not handled again)
--   -> 202, then the handler: handle(event, ctx) as a task; success marks the
--      event done, an error records the attempt and its next time (backoff),
--      and after max_attempts the event is dead.
--
-- rt:deliver runs the first attempt right away; rt:process() runs every
-- attempt that is due (advance a t.clock() to reach the retries).
local lira = require "lira"
local core = require "lira.core"
local rtmod = require "lira.runtime"

local M = {}

local Headers = {}
Headers.__index = function(h, k)
  if type(k) == "string" then return rawget(h, k:lower()) end
end

local function headers_of(t)
  local h = setmetatable({}, Headers)
  for k, v in pairs(t or {}) do rawset(h, tostring(k):lower(), tostring(v)) end
  return h
end

local function json_path(doc, path)
  for part in path:gmatch("[^%.]+") do
    if type(doc) ~= "table" then return nil end
    doc = doc[tonumber(part) or part]
  end
  if type(doc) == "string" or math.type(doc) == "integer" then return tostring(doc) end
  return nil
end

local function event_id(hook, headers, body)
  local spec = hook.id
  if spec == nil then
    -- No id configured: every delivery is new (nothing to dedupe on).
    M.seq = (M.seq or 0) + 1
    return ("delivery-%d-%d"):format(os.time(), M.seq)
  end
  local name = spec:match("^header:(.+)$")
  if name then
    local v = headers[name]
    return v ~= "" and v or nil
  end
  local ok, doc = pcall(core.json_decode, body)
  if not ok then return nil end
  return json_path(doc, spec:match("^json:(.+)$"))
end

local function received(route, result)
  lira.metrics.counter("lira_webhooks_received_total", { route = route, result = result },
                       "t.runtime: webhook deliveries by route and result"):inc()
end

local function make_event(ev)
  local ok, h = pcall(core.json_decode, ev.headers)
  local e = { id = ev.id, seq = ev.seq, route = ev.route, body = ev.body,
              headers = headers_of(ok and h or {}), received_at = ev.received_at,
              attempt = ev.attempts + 1 }
  return setmetatable(e, { __index = function(t, k)
    if k == "json" then
      local okj, v = pcall(core.json_decode, t.body)
      rawset(t, "json", okj and v or nil)
      return rawget(t, "json")
    end
  end })
end

-- One attempt of one inbox event; returns true | false, message.
local function attempt(self, ev)
  local r = self.routes[ev.route]
  local C = core
  if not r then return false, "no route " .. ev.route end
  local event = make_event(ev)
  local result
  local task = lira.spawn(rtmod.runner, "webhook", function(ctx) return r.hook.handle(event, ctx) end,
                          r.it.ctx, function(ok, msg, tb) result = { ok = ok, msg = msg, tb = tb } end,
                          event.headers.traceparent, event.headers.tracestate)
  local tok, terr = task:join()
  if not tok then result = { ok = false, msg = tostring(terr) } end
  self.handled[ev.route] = (self.handled[ev.route] or 0) + (result.ok and 1 or 0)
  if result.ok then
    C.inbox_done(ev.seq)
    return true
  end
  local b = self.backoff
  local delay = math.min(b.cap, b.base * 2 ^ ev.attempts)
  local dead = C.inbox_fail(ev.seq, result.msg, delay, self.max_attempts)
  lira.log.error("webhook: handler failed", { integration = r.it.name, route = ev.route,
                                              id = ev.id, attempt = ev.attempts + 1,
                                              error = result.msg, dead = dead })
  return false, result.msg, dead
end

function M.install(Runtime, T, fail)
  -- rt:deliver(route, { body = string | table, headers = {...}, method = "POST" })
  --   -> { status, result, id, seq, handled, error, attempts, dead }
  function Runtime:deliver(route, req)
    req = req or {}
    local C = core
    self.handled = self.handled or {}
    local body = req.body or ""
    if type(body) == "table" then body = core.json_encode(body) end
    if type(body) ~= "string" then fail("rt:deliver: body must be a string or a table", 2) end
    local r = self.routes[route]
    if not r then
      return { status = 404, result = "not_found", handled = false }
    end
    if (req.method or "POST") ~= "POST" then
      return { status = 405, result = "method_not_allowed", handled = false }
    end
    local headers = headers_of(req.headers)
    if r.hook.verify ~= false then
      local v = {}
      for k, x in pairs(r.hook.verify) do v[k] = x end
      v.headers, v.body = req.headers or {}, body
      if req.now then v.now = req.now end
      local ok, err = lira.webhook.verify(v)
      if not ok then
        received(route, err.kind)
        return { status = 401, result = err.kind, error = err, handled = false }
      end
    end
    local id = event_id(r.hook, headers, body)
    if not id then
      received(route, "malformed")
      return { status = 400, result = "missing_id", handled = false }
    end
    local plain = {}
    for k, v in pairs(req.headers or {}) do plain[tostring(k)] = tostring(v) end
    local res, seq = C.inbox_insert(route, id, core.json_encode(plain), body)
    if res == "duplicate" then
      received(route, "duplicate")
      return { status = 200, result = "duplicate", id = id, seq = seq, handled = false }
    end
    received(route, "accepted")
    local out = { status = 202, result = "accepted", id = id, seq = seq }
    for _, ev in ipairs(C.inbox_due(route, 1000)) do
      if ev.seq == seq then
        local ok, msg, dead = attempt(self, ev)
        out.handled, out.error, out.dead = ok, msg, dead or false
      end
    end
    out.attempts = 1
    return out
  end

  -- Run every inbox attempt due now (retries whose backoff has passed);
  -- returns how many succeeded and how many failed.
  function Runtime:process(route)
    local C = core
    self.handled = self.handled or {}
    local ok_n, fail_n = 0, 0
    for _, ev in ipairs(C.inbox_due(route, 1000)) do
      if attempt(self, ev) then ok_n = ok_n + 1 else fail_n = fail_n + 1 end
    end
    return ok_n, fail_n
  end

  -- The inbox event with this seq: { state = "pending"|"done"|"dead", attempts, ... }
  function Runtime:event(seq)
    for _, ev in ipairs(core.inbox_list(nil, seq - 1, 1)) do
      if ev.seq == seq then return ev end
    end
  end

  -- Inbox counts: pending, done, dead (of one route, or all).
  function Runtime:inbox(route)
    return core.inbox_counts(route)
  end

  -- How many times handlers of this route succeeded through this runtime.
  function Runtime:handled_count(route)
    return (self.handled or {})[route] or 0
  end
  T.Runtime = Runtime
end

return M
