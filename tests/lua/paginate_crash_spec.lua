-- Crash tests with a real `kill -9`: a child lua5.4 process syncs 10 000
-- items in pages of 100 with a checkpoint and is killed in the middle; a
-- second process finishes. Every id 1..10000 is seen across the two, at most
-- one page is delivered twice, and the sandbox's /_log shows that the pages
-- the first process consumed were not fetched again. The same for await: a
-- process killed while polling an operation is replaced by one that keeps
-- polling the same operation instead of starting a new one.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

local lira = require "lira"
local sandbox = require "helpers.sandbox"
local standin = require "helpers.paginate_checkpoint"

local LUA = os.getenv("LUA") or "lua5.4"
local sb
local state_file = os.tmpname()

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Start a fixture with env; returns the pipe and the child's pid.
local function spawn(fixture, env)
  local parts = { "echo $$; exec env" }
  for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. sh_quote(v) end
  parts[#parts + 1] = LUA .. " " .. sh_quote(here .. "fixtures/" .. fixture) .. " 2>&1"
  local p = assert(io.popen(table.concat(parts, " "), "r"))
  local pid = assert(tonumber(p:read("l")))
  return p, pid
end

local function kill9(pid)
  os.execute("kill -9 " .. pid .. " 2>/dev/null")
end

local function query_arg(q, name)
  return q:match("[?&]" .. name .. "=([^&]*)") or q:match("^" .. name .. "=([^&]*)")
end

setup(function() sb = sandbox.start { "--seed", "7" } end)
teardown(function()
  if sb then sb:stop() end
  standin.remove(state_file)
end)
before_each(function() sb:reset() end)

describe("paginate checkpoint after kill -9", function()
  it("a second process finishes a 10 000-item sync: nothing skipped, at most a page twice",
     function()
    local env = { SB_URL = sb.url, LIRA_STATE = state_file, CP = "crash-sync-" .. os.time(),
                  TOTAL = 10000, SIZE = 100, SLOW = 0.02 }
    -- run 1: killed while it works on page 5 (the checkpoint after page 4
    -- was written before page 5 was fetched)
    local p, pid = spawn("paginate_sync_child.lua", env)
    local seen1, max1, killed = {}, 0, false
    for line in p:lines() do
      local id, pg = line:match("^i (%d+) p (%d+)$")
      assert(id, "unexpected output from the child: " .. line)
      id = tonumber(id)
      seen1[id] = true
      max1 = math.max(max1, id)
      if not killed and tonumber(pg) >= 5 and id % 100 == 37 then
        kill9(pid)
        killed = true
      end
    end
    local _, how, code = p:close()
    assert.is_true(killed)
    assert.same({ "signal", 9 }, { how, code })
    assert.is_true(max1 < 10000, "the first run was not interrupted")
    local log1 = sb:log()
    assert.is_true(#log1 >= 5)

    -- run 2: resumes from the checkpoint and finishes
    env.SLOW = 0
    p = spawn("paginate_sync_child.lua", env)
    local ids2, done = {}, false
    for line in p:lines() do
      if line == "done" then
        done = true
      else
        local id = line:match("^i (%d+) p %d+$")
        assert(id, "unexpected output from the child: " .. line)
        ids2[#ids2 + 1] = tonumber(id)
      end
    end
    assert.is_true(p:close())
    assert.is_true(done)

    -- every id seen across both runs; at most one page delivered twice
    local seen, dup = {}, 0
    for id in pairs(seen1) do seen[id] = true end
    for _, id in ipairs(ids2) do
      if seen[id] then dup = dup + 1 end
      seen[id] = true
    end
    for i = 1, 10000 do assert.is_true(seen[i] == true, "id " .. i .. " was skipped") end
    assert.is_true(dup <= 100, dup .. " items re-delivered")

    -- what the server saw: run 2 started after the last consumed page
    local log2 = sb:log()
    local first = tonumber(query_arg(log2[1].query, "starting_after"))
    assert.is_not_nil(first, "run 2 fetched the first page again: " .. log2[1].query)
    assert.is_true(first >= 400 and first % 100 == 0, "resumed at " .. first)
    assert.equals(ids2[1], first + 1)
    for _, e in ipairs(log2) do
      local sa = tonumber(query_arg(e.query, "starting_after"))
      assert.is_true(sa ~= nil and sa >= first, "run 2 fetched an old page: " .. e.query)
    end
    assert.equals((10000 - first) / 100, #log2)
    io.stderr:write(("\n[crash sync: run 1 consumed up to id %d and fetched %d pages; run 2 " ..
                     "resumed after id %d; %d items delivered twice]\n")
                    :format(max1, #log1, first, dup))
    -- and run 1 had fetched exactly the pages up to where it died
    for i, e in ipairs(log1) do
      assert.equals(tostring((i - 1) * 100), query_arg(e.query, "starting_after") or "0")
    end
  end)
end)

describe("await checkpoint after kill -9", function()
  it("a restarted process keeps polling the same operation", function()
    local env = { SB_URL = sb.url, LIRA_STATE = state_file, CP = "crash-op-" .. os.time(),
                  POLLS = 12, POLL = 0.05 }
    local p, pid = spawn("paginate_await_child.lua", env)
    assert.equals("starting", p:read("l"))
    -- wait (bounded) until the server has seen a few polls, then kill
    local polls, deadline = 0, lira.now() + 10
    while polls < 4 and lira.now() < deadline do
      lira.sleep(0.02)
      polls = 0
      for _, e in ipairs(sb:log(true)) do
        if e.method == "GET" and e.path:match("^/ops/op_%d+$") then polls = polls + 1 end
      end
    end
    assert.is_true(polls >= 4, "the child did not poll")
    kill9(pid)
    p:read("a")
    p:close()

    p = spawn("paginate_await_child.lua", env)
    local out = p:read("a")
    assert.is_true(p:close(), out)
    local status, body = out:match("^final (%d+) (.*)\n$")
    assert.equals("200", status, out)
    assert.matches('"status":"succeeded"', body)

    local posts, ops = 0, {}
    for _, e in ipairs(sb:log()) do
      if e.method == "POST" and e.path == "/ops" then posts = posts + 1 end
      if e.method == "GET" then ops[e.path] = (ops[e.path] or 0) + 1 end
    end
    assert.equals(1, posts)                       -- one operation started, not two
    local paths = {}
    for path, n in pairs(ops) do paths[#paths + 1] = path .. " x" .. n end
    assert.equals(1, #paths, table.concat(paths, ", "))
    assert.matches("^/ops/op_%d+ x13$", paths[1])  -- 12 running + the final poll
  end)
end)
