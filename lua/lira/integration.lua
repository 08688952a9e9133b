-- lira.integration{...}: the value an integration file returns (LUA-API.md
-- §8, docs/runtime.md). It only validates and marks the table; the runtime
-- (`lira run`, src/runtime/) schedules and supervises what it describes.
--
--   return lira.integration {
--     name  = "orders",                  -- unique among the loaded files
--     every = 60,                        -- seconds between `sync` runs (jittered ±10 %)
--     sync  = function(ctx) end,         -- one run; never two at once
--     start = function(ctx) end,         -- long-running, restarted with backoff
--     stop  = function(ctx) end,         -- called once when it is stopped or replaced
--     webhooks = { ["/hooks/x"] = { verify = {...}, id = "header:webhook-id", handle = fn } },
--   }
--
-- Misuse raises with the caller's line, like every other lira constructor:
-- a typo (`evrey = 60`) is an error, not a silent default.
local M = {}

local Integration = { __name = "lira.Integration" }
Integration.__index = Integration
M.Integration = Integration

local KEYS = { name = true, every = true, sync = true, start = true, stop = true,
               webhooks = true, description = true }
local HOOK_KEYS = { verify = true, id = true, handle = true, max_attempts = true,
                   max_body = true }
local SCHEMES = { standard = true, stripe = true, github = true, hmac = true }

local function fail(msg, level)
  error("lira.integration: " .. msg, level + 1)
end

local function check_fn(spec, key, level)
  local v = spec[key]
  if v ~= nil and type(v) ~= "function" then
    fail(("%s must be a function, got %s"):format(key, type(v)), level + 1)
  end
end

-- Paths the runtime's listener answers itself (docs/runtime.md): a webhook
-- route there would never be reached.
local RESERVED = { ["/metrics"] = true, ["/healthz"] = true, ["/readyz"] = true }

local function reserved(route)
  local p = route:gsub("/+$", "")
  return RESERVED[p] or p == "/admin" or p:find("^/admin/") ~= nil
end

local function check_webhook(route, h, level)
  if type(route) ~= "string" or not route:find("^/[%w%-%._~/]*$") then
    fail(("webhooks: route %s must be a path like \"/hooks/shop\""):format(
      type(route) == "string" and ("%q"):format(route) or type(route)), level + 1)
  end
  if reserved(route) then
    fail(("webhooks: route %q is the runtime's own (/metrics, /healthz, /readyz, /admin/...)")
         :format(route), level + 1)
  end
  if type(h) ~= "table" then
    fail(("webhooks[%q] must be a table, got %s"):format(route, type(h)), level + 1)
  end
  for k in pairs(h) do
    if not HOOK_KEYS[k] then
      fail(("webhooks[%q]: unknown field '%s' (verify, id, handle, max_attempts, max_body)"):format(route, tostring(k)),
           level + 1)
    end
  end
  if type(h.handle) ~= "function" then
    fail(("webhooks[%q].handle must be a function"):format(route), level + 1)
  end
  if h.verify ~= false then
    if type(h.verify) ~= "table" then
      fail(("webhooks[%q].verify must be a table (or false to accept unsigned deliveries)"):
           format(route), level + 1)
    end
    if not SCHEMES[h.verify.scheme] then
      fail(("webhooks[%q].verify.scheme must be standard, stripe, github or hmac"):format(route),
           level + 1)
    end
    local s = h.verify.secret
    if type(s) ~= "string" and type(s) ~= "table" then
      fail(("webhooks[%q].verify.secret must be a string or a list of strings"):format(route),
           level + 1)
    end
  end
  if h.id ~= nil and (type(h.id) ~= "string" or not (h.id:find("^header:.+") or
                                                      h.id:find("^json:.+"))) then
    fail(("webhooks[%q].id must be \"header:<name>\" or \"json:<field>\""):format(route),
         level + 1)
  end
end

function M.new(spec)
  local level = 2
  if type(spec) ~= "table" then fail("expects a table, got " .. type(spec), level) end
  for k in pairs(spec) do
    if not KEYS[k] then
      fail(("unknown field '%s' (name, every, sync, start, stop, webhooks)"):format(
        tostring(k)), level)
    end
  end
  local name = spec.name
  if type(name) ~= "string" or not name:find("^[%w][%w_%.%-]*$") or #name > 128 then
    fail("name must be 1..128 letters, digits, '_', '.' or '-', got " ..
         (type(name) == "string" and ("%q"):format(name) or type(name)), level)
  end
  check_fn(spec, "sync", level)
  check_fn(spec, "start", level)
  check_fn(spec, "stop", level)
  local every = spec.every
  if every ~= nil then
    if type(every) ~= "number" or not (every >= 0.01) or every == math.huge then
      fail("every must be a number of seconds >= 0.01, got " .. tostring(every), level)
    end
    if not spec.sync then fail("every is set but there is no sync function", level) end
  elseif spec.sync then
    fail("sync needs every (seconds between runs)", level)
  end
  if spec.webhooks ~= nil then
    if type(spec.webhooks) ~= "table" then
      fail("webhooks must be a table of route -> handler", level)
    end
    for route, h in pairs(spec.webhooks) do check_webhook(route, h, level) end
  end
  if not (spec.sync or spec.start or spec.webhooks) then
    fail("nothing to run: give sync (with every), start or webhooks", level)
  end
  local out = {}
  for k, v in pairs(spec) do out[k] = v end
  return setmetatable(out, Integration)
end

function M.is(v)
  return getmetatable(v) == Integration
end

return M
