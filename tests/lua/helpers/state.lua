-- Helpers for the state_* specs: temp folders, child lua5.4 processes with
-- their own environment (LIRA_STATE), raw sqlite3, and a lock held by a
-- child `sqlite3` process inside BEGIN EXCLUSIVE.
local M = {}

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = q

function M.tmpdir()
  local p = assert(io.popen("mktemp -d /tmp/lira-state-spec.XXXXXX"))
  local d = p:read("l")
  p:close()
  return d
end

function M.rmdir(d)
  if d and d:find("^/tmp/lira%-state%-spec%.") then os.execute("rm -rf " .. q(d)) end
end

function M.write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

function M.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function M.mode(path)
  local p = assert(io.popen("stat -c %A " .. q(path)))
  local m = p:read("l")
  p:close()
  return m
end

-- sqlite3 path sql -> its output
function M.sqlite(path, sql)
  local p = assert(io.popen(("sqlite3 %s %s 2>&1"):format(q(path), q(sql))))
  local out = p:read("a")
  p:close()
  return out
end

-- The environment prefix for a child: env K=V ... (a value "" unsets K).
local function env_prefix(env)
  local parts = { "env" }
  for k, v in pairs(env or {}) do
    if v == "" then
      parts[#parts + 1] = "-u " .. k
    else
      parts[#parts + 1] = k .. "=" .. q(v)
    end
  end
  return table.concat(parts, " ")
end
M.env_prefix = env_prefix

-- Run `code` in a child lua5.4 (LUA_PATH/LUA_CPATH/LD_PRELOAD inherited);
-- returns its stdout+stderr and whether it exited 0.
function M.run_lua(code, env, cwd)
  local file = os.tmpname()
  M.write(file, code)
  local cmd = ("%s%s lua5.4 %s 2>&1"):format(cwd and ("cd " .. q(cwd) .. " && ") or "",
                                           env_prefix(env), q(file))
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok = p:close()
  os.remove(file)
  return out, ok == true
end

-- Sleep a little without lira (os.execute'd sleep).
local function nap()
  os.execute("sleep 0.02")
end

-- A child sqlite3 process holding `path` in BEGIN EXCLUSIVE until
-- :release(). Waits (bounded) until the lock is really taken.
function M.lock(path)
  local marker = os.tmpname()
  os.remove(marker)
  local p = assert(io.popen(("sqlite3 %s >/dev/null 2>&1"):format(q(path)), "w"))
  p:write("PRAGMA busy_timeout=2000;\nBEGIN EXCLUSIVE;\n.once " .. marker .. "\nSELECT 1;\n")
  p:flush()
  for _ = 1, 250 do
    local f = io.open(marker)
    if f then
      f:close()
      os.remove(marker)
      return {
        release = function()
          p:write("COMMIT;\n.quit\n")
          p:close()
        end,
      }
    end
    nap()
  end
  p:close()
  error("the sqlite3 child did not take the lock")
end

return M
