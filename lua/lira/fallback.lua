-- lira.fallback: what a client returns instead of failing (LUA-API.md §5).
--
-- A client's `fallback = function(req, err) ... end` is called when a call
-- ends with `err` (breaker_open included) or with a final 5xx/429 response
-- (then err.kind == "status", err.status and err.response are set); what it
-- returns is returned to the caller instead. lira.client does the calling;
-- this module holds the built-in fallbacks.
--
-- lira.fallback.stale(ttl) serves the last good response of the same GET
-- from the durable store. The store arrives with a later issue: until then a
-- client given stale() refuses to be built, with an error that says so,
-- rather than silently failing over to nothing.
local M = {}

local Stale = { __name = "lira.fallback.stale" }
Stale.__index = Stale

function Stale:__tostring()
  return ("lira.fallback.stale(%s)"):format(self.ttl)
end

-- Whether the durable store (needed by stale) exists in this version.
M.store_available = false

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

return M
