-- A real `lira sandbox` on 127.0.0.1 for the specs: start it on a free port,
-- read what it logged (/_log: what the server really received), stop it.
--
--   local sandbox = require "helpers.sandbox"    -- (package.path: tests/lua)
--   local sb = sandbox.start()                   -- sb.url = "http://127.0.0.1:PORT"
--   local seq = sb:reset()                       -- POST /_reset and /oauth/_reset
--   local entries = sb:log()                     -- entries since the last sb:log()/reset
--   local mine = sb:log_since(seq, "/oauth/")    -- or: after seq, by path prefix
--   local doc = sb:get_json("/oauth/_stats")     -- sb:post(path), sb.client: the same window
--   sb:stop()
--
-- The binary is $LIRA_BIN (CMake sets it for every spec). The sandbox's
-- stdout stays an open pipe until stop(), so it never gets SIGPIPE.
local core = require "lira.core"

local M = {}
local Sandbox = {}
Sandbox.__index = Sandbox

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Start a sandbox; `args` (optional) are extra flags, e.g. { "--seed", "7" }.
function M.start(args)
  local bin = assert(os.getenv("LIRA_BIN"), "LIRA_BIN is not set (run the specs through ctest)")
  local cmd = { "exec", sh_quote(bin), "sandbox", "--listen", "127.0.0.1:0" }
  for _, a in ipairs(args or {}) do cmd[#cmd + 1] = sh_quote(a) end
  -- The shell prints its pid, then becomes the sandbox (exec keeps the pid).
  local p = assert(io.popen("echo $$; " .. table.concat(cmd, " ") .. " 2>/dev/null", "r"))
  local pid = tonumber(p:read("l"))
  local line = p:read("l")
  local url = line and line:match("^listening on (http://[%d%.]+:%d+)$")
  if not (pid and url) then
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    p:close()
    error("lira sandbox did not start (got " .. tostring(line) .. ")")
  end
  local sb = setmetatable({ url = url, pid = pid, pipe = p, since = 0 }, Sandbox)
  -- The specs' own window on the server: no retries, no breaker, no limiter,
  -- so reading the log never changes what is being tested.
  sb.client = core.client_new {
    name = "sandbox-control-" .. pid, base_url = url, retry = false, breaker = false,
    limit = false, budget = false,
  }
  return sb
end

-- GET path on the sandbox with the control client; returns res (raises on err).
function Sandbox:get(path, opts)
  local res, err = self.client:request("GET", path, opts)
  assert(res, err and tostring(err))
  return res
end

-- Decoded JSON of GET path (raises unless the status is 200).
function Sandbox:get_json(path)
  local res = self:get(path)
  assert(res.status == 200, ("GET %s: %d %s"):format(path, res.status, res.body))
  return res:json()
end

-- POST path with an empty body (raises unless the status is 200).
function Sandbox:post(path)
  local res, err = self.client:request("POST", path, { body = "" })
  assert(res, err and tostring(err))
  assert(res.status == 200, ("POST %s: %d"):format(path, res.status))
end

-- Every log entry after seq `since`, paged; returns them and the last seq read.
local function fetch(self, since)
  local out = {}
  while true do
    local doc = self:get("/_log", { query = { since = since, limit = 4096 } }):json()
    for _, e in ipairs(doc.entries) do out[#out + 1] = e end
    if #doc.entries == 0 or doc.last >= doc.newest then
      if doc.last and doc.last > 0 then since = math.max(since, doc.last) end
      return out, since
    end
    since = doc.last
  end
end

-- The log entries that arrived after the previous log()/reset() (oldest
-- first); `all` = true returns everything still in the ring instead.
function Sandbox:log(all)
  local out, since = fetch(self, all and 0 or self.since)
  if not all then self.since = since end
  return out
end

-- The log entries after seq `since` (from reset() or log_seq()), only those
-- whose path starts with `prefix` when given; the sandbox's own admin paths
-- (/_..., /oauth/_...) are left out. Does not move log()'s position.
function Sandbox:log_since(since, prefix)
  local out = {}
  for _, e in ipairs((fetch(self, since))) do
    if (prefix == nil or e.path:sub(1, #prefix) == prefix)
       and not e.path:find("^/oauth/_") and not e.path:find("^/_") then
      out[#out + 1] = e
    end
  end
  return out
end

-- The seq of the newest log entry (0 when none).
function Sandbox:log_seq()
  local res = self:get("/_log", { query = { since = 0, limit = 1 } })
  assert(res.status == 200, ("GET /_log: %d %s"):format(res.status, res.body))
  return res:json().newest or 0
end

-- Clear the server's state (log, flaky counters, rate-limit windows, ...),
-- OAuth2 tokens and counters included; log() starts over from here. Returns
-- the log position, for log_since().
function Sandbox:reset()
  self:post("/_reset")
  self:post("/oauth/_reset")
  self.since = self:log_seq()
  return self.since
end

-- The OAuth2 server's counters (/oauth/_stats: issued, ...).
function Sandbox:oauth_stats()
  return self:get_json("/oauth/_stats")
end

-- The value of a header in a log entry, whatever its case.
function M.header(entry, name)
  name = name:lower()
  for k, v in pairs(entry.headers or {}) do
    if k:lower() == name then return v end
  end
  return nil
end

function Sandbox:stop()
  if not self.pipe then return end
  self.client:close()
  os.execute("kill " .. self.pid .. " 2>/dev/null")
  self.pipe:close()
  self.pipe = nil
end

return M
