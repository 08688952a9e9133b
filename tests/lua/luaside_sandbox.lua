-- A `lira sandbox` child process for the Lua specs (auth, lira, config):
-- start it on a free port, talk to it with a plain lira client, read its
-- request log, stop it. $LIRA_BIN is the lira binary (ctest sets it).
local M = {}

local Sandbox = {}
Sandbox.__index = Sandbox

function M.start()
  local bin = assert(os.getenv("LIRA_BIN"), "LIRA_BIN not set")
  assert(bin ~= "", "LIRA_BIN is empty (no lira binary in this build)")
  -- The shell prints its pid, then becomes the sandbox (exec), so that
  -- pid is the sandbox's.
  local p = assert(io.popen(("sh -c 'echo $$; exec %q sandbox --listen 127.0.0.1:0 --seed 7'")
                            :format(bin), "r"))
  local pid = assert(tonumber(p:read("l")), "no pid from the sandbox shell")
  local line = p:read("l") or ""
  local url = line:match("^listening on (http://127%.0%.0%.1:%d+)$")
  if not url then
    os.execute("kill " .. pid)
    p:close()
    error("the sandbox did not start: " .. line)
  end
  local lira = require "lira"
  local self = setmetatable({ pid = pid, pipe = p, url = url }, Sandbox)
  self.admin = lira.client { name = "luaside-admin", base_url = url, retry = false,
                             breaker = false, limit = false }
  return self
end

function Sandbox:stop()
  os.execute("kill " .. self.pid)
  self.pipe:close()
end

-- Decoded JSON of GET path (asserting a 200).
function Sandbox:get_json(path)
  local res = assert(self.admin:get(path))
  assert(res.status == 200, ("GET %s: %d %s"):format(path, res.status, res.body))
  return res:json()
end

function Sandbox:post(path)
  local res = assert(self.admin:post(path, { body = "" }))
  assert(res.status == 200, ("POST %s: %d"):format(path, res.status))
end

-- Clear the sandbox's state, OAuth2 included; returns the log position.
function Sandbox:reset()
  self:post("/_reset")
  self:post("/oauth/_reset")
  return self:log_seq()
end

function Sandbox:log_seq()
  return self:get_json("/_log?since=0&limit=1").newest
end

-- Log entries after seq `since`, optionally only those whose path starts
-- with `prefix` (the admin's own /oauth/_stats etc. filtered out).
function Sandbox:log(since, prefix)
  local out = {}
  for _, e in ipairs(self:get_json("/_log?since=" .. since).entries) do
    if (prefix == nil or e.path:sub(1, #prefix) == prefix)
       and not e.path:find("^/oauth/_") and not e.path:find("^/_") then
      out[#out + 1] = e
    end
  end
  return out
end

function Sandbox:oauth_stats()
  return self:get_json("/oauth/_stats")
end

return M
