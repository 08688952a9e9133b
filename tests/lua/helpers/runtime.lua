-- `lira run` as a real child process for the specs: files in a temporary
-- folder, the listener on 127.0.0.1, signals with kill(1), and every wait
-- a poll with a deadline (never a fixed sleep that hopes it was enough).
--
--   local runtime = require "helpers.runtime"
--   local dir = runtime.dir { ["a.lua"] = "...", ["sub/init.lua"] = "..." }
--   local p = runtime.start { dir.path, args = { "--drain", "1" }, env = { X = "1" } }
--   p:wait(function() local i = p:integ("a"); return i and i.runs >= 2 end, 10, "two runs")
--   p:signal("TERM"); assert.equals(0, p:wait_exit(10))
--   dir:rm()
local lira = require "lira"
local core = require "lira.core"

local M = {}

local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end
M.read = read

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- ------------------------------------------------------------- folders ---

local Dir = {}
Dir.__index = Dir

function M.dir(files)
  local base = os.tmpname()
  os.remove(base)
  assert(os.execute("mkdir -p " .. sh(base)))
  local d = setmetatable({ path = base }, Dir)
  for name, text in pairs(files or {}) do d:write(name, text) end
  return d
end

function Dir:file(name) return self.path .. "/" .. name end

-- Write in place (an editor that truncates and writes).
function Dir:write(name, text)
  local p = self:file(name)
  local sub = p:match("^(.*)/[^/]+$")
  os.execute("mkdir -p " .. sh(sub))
  write(p, text)
end

-- An editor's atomic save: write a temporary file, rename it over the old.
function Dir:save(name, text)
  local p = self:file(name)
  local tmp = p:match("^(.*)/[^/]+$") .. "/.tmp-" .. tostring(math.random(1e9))
  write(tmp, text)
  assert(os.rename(tmp, p))
end

function Dir:remove(name) assert(os.remove(self:file(name))) end
function Dir:read(name) return read(self:file(name)) end
function Dir:rm() os.execute("rm -rf " .. sh(self.path)) end

-- -------------------------------------------------------------- process ---

local Proc = {}
Proc.__index = Proc

function M.sleep(s) lira.sleep(s) end

local function wait_for(fn, timeout, what)
  local deadline = lira.now() + timeout
  local last
  while true do
    local ok, v = pcall(fn)
    if ok and v then return v end
    last = ok and v or ("error: " .. tostring(v))
    if lira.now() > deadline then
      error(("timed out after %gs waiting for %s (last: %s)"):format(timeout, what or "?",
        tostring(last)), 2)
    end
    lira.sleep(0.05)
  end
end
M.wait_for = wait_for

-- Start `lira run --listen 127.0.0.1:0 --state <tmp> PATHS...`.
-- opts: paths as the array part; args (extra flags); env (variables);
-- listen = false for no listener.
function M.start(opts)
  local bin = assert(os.getenv("LIRA_BIN"), "LIRA_BIN is not set (run the specs through ctest)")
  local base = os.tmpname()
  local p = setmetatable({ out = base .. ".out", log = base .. ".log", pidf = base .. ".pid",
                           statusf = base .. ".status", state = base .. ".db", base = base },
                         Proc)
  local cmd = {}
  for k, v in pairs(opts.env or {}) do cmd[#cmd + 1] = k .. "=" .. sh(v) end
  cmd[#cmd + 1] = sh(bin) .. " run --state " .. sh(p.state)
  if opts.listen ~= false then cmd[#cmd + 1] = "--listen 127.0.0.1:0" end
  for _, a in ipairs(opts.args or {}) do cmd[#cmd + 1] = sh(a) end
  for _, a in ipairs(opts) do cmd[#cmd + 1] = sh(a) end
  local line = ("(%s >%s 2>%s & echo $! >%s; wait $!; echo $? >%s) >/dev/null 2>&1 &"):format(
    table.concat(cmd, " "), sh(p.out), sh(p.log), sh(p.pidf .. ".tmp"), sh(p.statusf))
  -- The pid file appears whole: written aside, then renamed.
  line = line:gsub("echo %$! >([^;]+);", function(f)
    return ("echo $! >%s; mv %s %s;"):format(f, f, sh(p.pidf))
  end)
  assert(os.execute(line))
  p.pid = wait_for(function() return tonumber(read(p.pidf) or "") end, 10, "the pid")
  if opts.listen ~= false then
    p.url = wait_for(function()
      local s = read(p.out) or ""
      local url = s:match("listening on (http://[%d%.]+:%d+)")
      if not url and read(p.statusf) then error("lira run exited: " .. (read(p.log) or "")) end
      return url
    end, 15, "the listener")
    p.client = core.client_new { name = "runtime-spec-" .. p.pid, base_url = p.url,
                                 retry = false, breaker = false, limit = false, budget = false }
  end
  return p
end

-- GET path: status, body.
function Proc:get(path)
  local res, err = self.client:request("GET", path, { timeout = { read = 5, deadline = 10 } })
  assert(res, err and tostring(err))
  return res.status, res.body
end

function Proc:admin()
  local st, body = self:get("/admin/integrations")
  assert(st == 200, body)
  return lira.json.decode(body)
end

function Proc:integ(name)
  for _, i in ipairs(self:admin().integrations) do
    if i.name == name then return i end
  end
  return nil
end

function Proc:wait(fn, timeout, what) return wait_for(fn, timeout or 10, what) end

function Proc:signal(sig) os.execute(("kill -%s %d 2>/dev/null"):format(sig, self.pid)) end

function Proc:exited() return tonumber(read(self.statusf) or "") end

function Proc:wait_exit(timeout)
  return wait_for(function() return self:exited() end, timeout or 10, "the exit")
end

function Proc:logs() return read(self.log) or "" end

-- Stop it (TERM, then KILL) and remove its files; returns the exit status.
function Proc:stop()
  if self.client then self.client:close() self.client = nil end
  local code = self:exited()
  if not code then
    self:signal("TERM")
    local ok, c = pcall(self.wait_exit, self, 15)
    if not ok then self:signal("KILL") c = nil end
    code = c
  end
  for _, f in ipairs { self.out, self.log, self.pidf, self.statusf, self.state,
                       self.state .. "-wal", self.state .. "-shm", self.base } do
    os.remove(f)
  end
  return code
end

-- Run `lira <args...>` to completion: exit code, stdout+stderr.
function M.exec(args)
  local bin = assert(os.getenv("LIRA_BIN"))
  local q = {}
  for i, a in ipairs(args) do q[i] = sh(a) end
  local p = io.popen(sh(bin) .. " " .. table.concat(q, " ") .. " 2>&1; echo \"exit=$?\"")
  local out = p:read("a")
  p:close()
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  return code, (out:gsub("exit=%d+%s*$", ""))
end

return M
