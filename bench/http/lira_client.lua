-- lira's side of scripts/bench_http: N GETs through lira.client with every
-- layer a production client has on — limiter (a rate high enough never to
-- wait, so its bookkeeping is paid but no pacing), breaker, retries with
-- the retry budget, X-Request-Id (always sent) — and res:json() on every
-- body. Observability follows the environment (docs/observability.md): as a
-- plain host it logs at warn (no line per call), keeps metrics and sends a
-- traceparent; scripts/bench_http --telemetry sets LIRA_LOG_LEVEL,
-- LIRA_LOG_FILE, LIRA_METRICS=off and the OTEL_* variables to compare
-- everything off, everything on (spans exported) and traces unsampled.
--
-- c tasks (lira.spawn) each make n/c sequential GETs inside lira.run; c=1
-- is one task. Each task makes one GET first, outside the measurement, so
-- the connections are open (the raw libcurl baseline does the same).
--
-- CPU is os.clock() (CPU time of the whole process, every thread) around
-- the request loop and lira.trace.flush() (the export of every span the
-- loop made, when spans are exported); wall time is lira.now() around the
-- loop alone; peak RSS is VmHWM. Prints:
--   BENCH client=lira c=<c> n=<n> ok=<ok> wall=<s> cpu=<s> rss_kb=<kb>
--
-- usage: lua5.4 lira_client.lua <url> <n> [c]
--   with LUA_PATH/LUA_CPATH pointing at lua/ and a build's lib/ (scripts/bench_http sets them)
local lira = require "lira"

-- The collector as `lira run` sets it for every integration (docs/runtime.md):
-- generational, so each call's young garbage (the response, the decoded
-- body) goes in minor collections. The floor (raw_curl_bench --lua) runs its
-- Lua state the same way.
collectgarbage("generational")

local url, n, c = arg[1], tonumber(arg[2]), tonumber(arg[3] or "1")
assert(url and n and c and n >= c and c >= 1, "usage: lira_client.lua <url> <n> [c]")
local base, path = url:match("^(https?://[^/]+)(/.*)$")
assert(base, "url must be http(s)://host[:port]/path")

local function peak_rss_kb()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)")) or -1
end

local client = lira.client {
  name = "bench",
  base_url = base,
  limit = { rate = 1e9, per = 1, burst = 1e6 },      -- never waits
  retry = { attempts = 4, base = 0.2, cap = 30, jitter = "full" },
  breaker = { window = 30, failure_rate = 0.5, min_calls = 20, cooldown = 15, half_open = 3 },
  connections = c,   -- one per task, as the raw client's c handles (the default is 16)
}

local errors, first_error = 0, nil

-- count GETs, each body decoded; returns how many ended 2xx with the expected JSON.
local function worker(count)
  local ok = 0
  for _ = 1, count do
    local res, err = client:get(path)
    if res then
      local doc = res:json()
      if res.ok and doc.id then ok = ok + 1 end
    else
      errors = errors + 1
      first_error = first_error or tostring(err)
    end
  end
  return ok
end

local function in_tasks(counts)
  local tasks, ok = {}, 0
  for i = 1, #counts do tasks[i] = lira.spawn(worker, counts[i]) end
  for i = 1, #counts do
    local done, r = tasks[i]:join()
    if done then ok = ok + r else errors = errors + 1; first_error = first_error or tostring(r) end
  end
  return ok
end

local ok, cpu, wall
lira.run(function()
  local warm = {}
  for i = 1, c do warm[i] = 1 end
  in_tasks(warm)
  local counts = {}
  for i = 1, c do counts[i] = n // c + (i <= n % c and 1 or 0) end
  local cpu0, wall0 = os.clock(), lira.now()
  ok = in_tasks(counts)
  wall = lira.now() - wall0
  -- With spans exported, the last partial batch (up to 511 spans) would
  -- otherwise leave after the window, at exit: flush counts its CPU too
  -- (not its wall time, which is mostly the collector reading the batch).
  -- Nothing exported: it returns at once.
  assert(lira.trace.flush(10))
  cpu = os.clock() - cpu0
end)

if errors > 0 then
  io.stderr:write(string.format("lira_client: %d errors, first: %s\n", errors, first_error))
end
print(string.format("BENCH client=lira c=%d n=%d ok=%d wall=%.6f cpu=%.6f rss_kb=%d",
                    c, n, ok, wall, cpu, peak_rss_kb()))
