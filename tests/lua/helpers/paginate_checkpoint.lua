-- Test-only stand-in for lira.checkpoint(name) while the state store's Lua
-- side is not there yet (the real one replaces it as soon as it exists:
-- install() does nothing when lira.checkpoint is already a function).
--
-- Same contract: :get() -> value or nil, :set(value) (JSON, one atomic
-- write), :reset(). Each checkpoint is a file next to $LIRA_STATE, written
-- to a temporary name and renamed over the old one, so it survives a
-- kill -9 of the process the way a committed row does.
local lira = require "lira"

local M = {}

local state_path

local function file_of(name)
  local base = assert(state_path or os.getenv("LIRA_STATE"), "LIRA_STATE is not set")
  return base .. ".cp." .. name:gsub("[^%w_.-]", "_") .. ".json"
end

local Checkpoint = {}
Checkpoint.__index = Checkpoint

function Checkpoint:get()
  local f = io.open(self.file, "r")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return lira.json.decode(text)
end

function Checkpoint:set(value)
  local tmp = self.file .. ".tmp"
  local f = assert(io.open(tmp, "w"))
  f:write(lira.json.encode(value))
  f:close()
  assert(os.rename(tmp, self.file))
end

function Checkpoint:reset()
  os.remove(self.file)
end

-- Use `path` (default: $LIRA_STATE) as this process's state file: the
-- stand-in's files sit next to it; the real store is (re)opened on it.
function M.install(path)
  state_path = path
  if type(lira.checkpoint) == "function" then
    local core = require "lira.core"
    if path and core.store_open then core.store_open(path) end
    return false
  end
  lira.checkpoint = function(name)
    return setmetatable({ name = name, file = file_of(name) }, Checkpoint)
  end
  return true
end

-- Remove a spec's state file: the database, its -wal/-shm, and the
-- stand-in's checkpoint files next to it.
function M.remove(path)
  for _, suffix in ipairs { "", "-wal", "-shm" } do os.remove(path .. suffix) end
  os.execute("rm -f " .. path .. ".cp.*")
end

return M
