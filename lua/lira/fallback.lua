-- lira.fallback: what a client returns instead of failing (LUA-API.md §5).
--
-- A client's `fallback = function(req, err) ... end` is called when a call
-- ends with `err` (breaker_open included) or with a final 5xx/429 response
-- (then err.kind == "status", err.status and err.response are set); what it
-- returns is returned to the caller instead. lira.client does the calling;
-- this module holds the built-in fallbacks.
--
-- lira.fallback.stale(ttl) serves the last good response of the same GET
-- from the durable store (docs/state.md: the response cache). lira.client
-- calls two methods of it:
--   stale:keep(client, method, path, opts, res)   after every successful call
--   stale:serve(client, method, path, opts, res, err)   when the call failed
-- "The same GET" is (client name, "GET", URL): base_url, the path with its
-- {params} filled, and the query sorted by name, encoded exactly as
-- lira.client encodes them; request headers are not part of it.
local core = require "lira.core"

local M = {}

local Stale = { __name = "lira.fallback.stale" }
Stale.__index = Stale

function Stale:__tostring()
  return ("lira.fallback.stale(%s)"):format(self.ttl)
end

-- Whether the durable store (needed by stale) exists in this version.
M.store_available = core.cache_get ~= nil

-- lira.fallback.stale(ttl): ttl in seconds (> 0).
function M.stale(ttl)
  if type(ttl) ~= "number" or not (ttl > 0) or ttl == math.huge then
    error(("bad argument #1 to 'lira.fallback.stale' (ttl must be a positive number of " ..
           "seconds, got %s)"):format(tostring(ttl)), 2)
  end
  return setmetatable({ ttl = ttl }, Stale)
end

function M.is_stale(v)
  return getmetatable(v) == Stale
end

-- ------------------------------------------------------------ cache key ---

-- RFC 3986: unreserved bytes stay, every other byte is %XX (as lira.client).
local function escape(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function text(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return ("%.14g"):format(v)
  end
  if t == "boolean" then return tostring(v) end
  return "?"
end

-- The URL lira.client requests for (path, opts), with the client's
-- (redacted) base_url: the cache key.
function M.cache_url(client, path, opts)
  local params = type(opts) == "table" and opts.params or nil
  local url = path:gsub("{([^}]*)}", function(n)
    return escape(text(type(params) == "table" and params[n] or nil))
  end)
  if not (path:find("^https?://")) then url = client.base_url .. url end
  local q = type(opts) == "table" and opts.query or nil
  if type(q) == "table" then
    local names = {}
    for k in pairs(q) do names[#names + 1] = k end
    table.sort(names)
    local parts, sep = { url }, path:find("?", 1, true) and "&" or "?"
    for _, k in ipairs(names) do
      local v = q[k]
      local vs = type(v) == "table" and v or { v }
      for _, x in ipairs(vs) do
        parts[#parts + 1] = sep .. escape(k) .. "=" .. escape(text(x))
        sep = "&"
      end
    end
    url = table.concat(parts)
  end
  return url
end

-- --------------------------------------------------------- stale serving ---

local Headers = {
  __index = function(t, k)
    if type(k) == "string" then return rawget(t, k:lower()) end
  end,
}

local Response = { __name = "lira.StaleResponse" }
Response.__index = Response

function Response:__tostring()
  return ("lira.Response (%d GET %s, stale %.1f s)"):format(self.status, self.endpoint, self.age)
end

-- res:json() -> the decoded body (cached), as on a live response.
function Response:json()
  local v = rawget(self, "_json")
  if v == nil then
    v = core.json_decode(self.body)
    rawset(self, "_json", v)
  end
  return v
end

-- Remember a 2xx GET. A response over the cache's byte cap is not cached
-- (the cache stays bounded); a store failure raises (docs/state.md).
function Stale:keep(client, method, path, opts, res)
  if method ~= "GET" or res.status < 200 or res.status > 299 then return end
  core.cache_put(client.name, "GET", M.cache_url(client, path, opts), res.status,
                 core.json_encode(res.headers), res.body)
end

-- The failed call's answer: the cached response when it is younger than
-- ttl, else the original outcome (res for a 5xx/429, or nil, err).
function Stale:serve(client, method, path, opts, res, err)
  if method == "GET" then
    local url = M.cache_url(client, path, opts)
    local status, headers, body, age = core.cache_get(client.name, "GET", url)
    if status ~= nil and age < self.ttl then
      if core.metrics then
        core.metrics.counter("lira_stale_served_total", { client = client.name },
                             "Responses served from the stale cache instead of a failed call")
          :inc()
      end
      local failed = err or res
      return setmetatable({
        status = status, ok = status >= 200 and status <= 299,
        headers = setmetatable(core.json_decode(headers), Headers), body = body,
        stale = true, age = age, method = "GET", endpoint = path,
        url = url,
        attempts = failed.attempts, request_id = failed.request_id,
        error = err, response = res,
      }, Response)
    end
  end
  if res ~= nil then return res end
  return nil, err
end

return M
