-- The telemetry against everything off, in one process: scripts/bench_http
-- --telemetry-ab. The separate runs of --telemetry are each a process of
-- their own, a fraction of a second apart on a shared 2-CPU machine, and
-- their pairs differ by ±13 % (interquartile range) when the setups are the
-- same; that is more than the 3 % the goal asks to resolve. Here the two
-- setups alternate in blocks of k calls a few tens of milliseconds apart, in
-- one process that has everything set up once, so a pair shares the state
-- of the machine far more closely.
--
-- The parent sets LIRA_LOG_LEVEL=info, LIRA_LOG_FILE and the OTLP endpoint,
-- as for --telemetry's "on". Blocks then switch what can be switched while
-- running (the log level, the built-in metrics, the tracer's sampler):
--   off        lira.log.level("off"), metrics off, traces unsampled
--   unsampled  lira.log.level("info"), metrics on, traces unsampled
--   on         as unsampled, every trace sampled; the block ends with
--              lira.trace.flush(), so it pays for exporting its own spans
-- "off" sends a traceparent and records nothing, as --telemetry's "off"
-- (which has no exporter at all) does. Each block is its own lira.run (c
-- tasks, k/c calls each, the client of lira_client.lua): its log lines are
-- written before it returns, so a block pays for its own lines too. A pair
-- runs off and the setup under test in a random order.
--
-- usage: lua5.4 lira_telemetry_ab.lua <url> <pairs> <k> <c> <unsampled|on>
-- prints one line per pair:
--   PAIR i=<i> c=<c> k=<k> setup=<setup> off=<cpu s> test=<cpu s>
local lira = require "lira"
local core = require "lira.core"

local url, npairs, k, c, test = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4]),
                                arg[5]
assert(url and npairs and k and c and k >= c and c >= 1 and (test == "unsampled" or test == "on"),
       "usage: lira_telemetry_ab.lua <url> <pairs> <k> <c> <unsampled|on>")
local base, path = url:match("^(https?://[^/]+)(/.*)$")
assert(base, "url must be http(s)://host[:port]/path")

local client = lira.client {
  name = "bench",
  base_url = base,
  limit = { rate = 1e9, per = 1, burst = 1e6 },
  retry = { attempts = 4, base = 0.2, cap = 30, jitter = "full" },
  breaker = { window = 30, failure_rate = 0.5, min_calls = 20, cooldown = 15, half_open = 3 },
  connections = c,
}

local failed = 0

local function worker(count)
  for _ = 1, count do
    local res = client:get(path)
    local doc = res and res:json()
    if not (res and res.ok and doc.id) then failed = failed + 1 end
  end
end

-- CPU seconds of one block: k calls over c tasks, in a lira.run of its own
-- (with `flush`, until the collector has the block's spans).
local function block(count, flush)
  local cpu0 = os.clock()
  lira.run(function()
    local tasks = {}
    for i = 1, c do tasks[i] = lira.spawn(worker, count // c + (i <= count % c and 1 or 0)) end
    for i = 1, c do assert(tasks[i]:join()) end
    if flush then assert(lira.trace.flush(10)) end
  end)
  return os.clock() - cpu0
end

local function set(level, metrics, sampler)
  lira.log.level(level)
  core.metrics_builtin(metrics)
  core.trace_sampler(sampler)
end

local setups = {
  off = function() set("off", false, "always_off") end,
  unsampled = function() set("info", true, "always_off") end,
  on = function() set("info", true, "always_on") end,
}

-- connections open, series made, caches warm: one block of each, not counted
for _, name in ipairs { test, "off" } do
  setups[name]()
  block(k, name == "on")
end

math.randomseed(1)
for i = 1, npairs do
  local order = math.random(2) == 1 and { "off", test } or { test, "off" }
  local t = {}
  for _, name in ipairs(order) do
    setups[name]()
    t[name] = block(k, name == "on")
  end
  print(("PAIR i=%d c=%d k=%d setup=%s off=%.6f test=%.6f"):format(i, c, k, test, t.off, t[test]))
end
if failed > 0 then
  io.stderr:write(("lira_telemetry_ab: %d calls failed\n"):format(failed))
  os.exit(1)
end
