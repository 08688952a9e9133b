-- The stand-in OTLP/HTTP collector (otlp_receiver.py) for the specs: start
-- one that appends every export body to a file, stop it.
--
--   local otlp = require "helpers.otlp"
--   local rx = otlp.start(path)      -- rx.url ("http://127.0.0.1:PORT")
--   ...; rx:stop()
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"

local M = {}
local Rx = {}
Rx.__index = Rx

local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

function M.start(out)
  local p = assert(io.popen(("echo $$; exec python3 %s %s 2>/dev/null"):format(
    sh(here .. "otlp_receiver.py"), sh(out)), "r"))
  local pid = tonumber(p:read("l"))
  local url = (p:read("l") or ""):match("^listening on (http://[%d%.]+:%d+)$")
  assert(pid and url, "the OTLP stand-in did not start (python3 missing?)")
  return setmetatable({ url = url, pid = pid, pipe = p }, Rx)
end

function Rx:stop()
  if self.pid then os.execute("kill " .. self.pid .. " 2>/dev/null") end
  if self.pipe then self.pipe:close() end
  self.pid, self.pipe = nil, nil
end

return M
