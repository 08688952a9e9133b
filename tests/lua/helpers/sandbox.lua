-- A real `lira sandbox` on 127.0.0.1 for the specs: start it on a free port,
-- read what it logged (/_log: what the server really received), stop it.
--
--   local sandbox = require "helpers.sandbox"    -- (package.path: tests/lua)
--   local sb = sandbox.start()                   -- sb.url = "http://127.0.0.1:PORT"
--   sb:reset()                                   -- POST /_reset
--   local entries = sb:log()                     -- entries since the last sb:log()/reset
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

-- The log entries that arrived after the previous log()/reset() (oldest
-- first); `all` = true returns everything still in the ring instead.
function Sandbox:log(all)
  local out = {}
  local since = all and 0 or self.since
  while true do
    local res = self:get("/_log", { query = { since = since, limit = 4096 } })
    local doc = res:json()
    for _, e in ipairs(doc.entries) do out[#out + 1] = e end
    if #doc.entries == 0 or doc.last >= doc.newest then
      if doc.last and doc.last > 0 then since = math.max(since, doc.last) end
      break
    end
    since = doc.last
  end
  if not all then self.since = since end
  return out
end

-- Clear the server's state (log, flaky counters, rate-limit windows, ...).
function Sandbox:reset()
  local res, err = self.client:request("POST", "/_reset")
  assert(res and res.status == 200, err and tostring(err))
  local doc = self:get("/_log", { query = { since = 0, limit = 1 } }):json()
  self.since = doc.newest or 0
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
