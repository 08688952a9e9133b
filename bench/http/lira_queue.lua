-- Memory of a deep queue (issue 4: "10 000 requests queued at once stay under
-- 100 MB RSS"): q tasks are spawned at once, each making one GET through a
-- client whose limiter lets `rate` calls per second through, so nearly all
-- of them sit waiting on the limiter at the same time. Reports the peak RSS
-- of the process (VmHWM) and the RSS before the tasks were spawned.
--
-- Prints:
--   BENCH client=lira_queue c=<q> n=<q> ok=<ok> wall=<s> cpu=<s> rss_kb=<peak> rss0_kb=<before>
--
-- usage: lua5.4 lira_queue.lua <url> [q=10000] [rate=2000]
local lira = require "lira"

collectgarbage("generational")   -- as `lira run` and lira_client.lua

local url, q, rate = arg[1], tonumber(arg[2] or "10000"), tonumber(arg[3] or "2000")
assert(url and q and rate, "usage: lira_queue.lua <url> [q] [rate]")
local base, path = url:match("^(https?://[^/]+)(/.*)$")
assert(base, "url must be http(s)://host[:port]/path")

local function rss_kb(field)
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match(field .. ":%s*(%d+)")) or -1
end

-- A deadline long enough that no task gives up waiting for its token.
local client = lira.client {
  name = "bench-queue",
  base_url = base,
  limit = { rate = rate, per = 1, burst = 100 },
  timeout = { connect = 2, read = 10, deadline = 2 * q / rate + 30 },
}

local ok, errors, first_error = 0, 0, nil
local rss0 = rss_kb("VmRSS")
local cpu0, wall0 = os.clock(), lira.now()
lira.run(function()
  local tasks = {}
  for i = 1, q do
    tasks[i] = lira.spawn(function()
      local res, err = client:get(path)
      if res and res.ok and res:json().id then return true end
      error(tostring(err or res.status), 0)
    end)
  end
  for i = 1, q do
    local done, r = tasks[i]:join()
    if done then ok = ok + 1 else errors = errors + 1; first_error = first_error or tostring(r) end
  end
end)
local cpu, wall = os.clock() - cpu0, lira.now() - wall0

if errors > 0 then
  io.stderr:write(string.format("lira_queue: %d errors, first: %s\n", errors, first_error))
end
print(string.format("BENCH client=lira_queue c=%d n=%d ok=%d wall=%.6f cpu=%.6f rss_kb=%d rss0_kb=%d",
                    q, q, ok, wall, cpu, rss_kb("VmHWM"), rss0))
