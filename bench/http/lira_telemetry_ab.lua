-- Traces unsampled against everything off, in one process: scripts/bench_http
-- --telemetry-ab. The separate runs of --telemetry are each a process of
-- their own, a fraction of a second apart on a shared 2-CPU machine, and
-- their pairs differ by ±13 % (interquartile range) when the setups are the
-- same; that is more than the 3 % the goal asks to resolve. Here the two
-- setups alternate in blocks of k calls a few tens of milliseconds apart, in
-- one process that has everything set up once, so a pair shares the state
-- of the machine far more closely.
--
-- The process starts as the "unsampled" setup of --telemetry (the parent
-- sets LIRA_LOG_LEVEL=info, LIRA_LOG_FILE, the OTLP endpoint and
-- OTEL_TRACES_SAMPLER=always_off). Blocks then switch what can be switched
-- while running:
--   off        lira.log.level("off"), the built-in metrics off
--   unsampled  lira.log.level("info"), the built-in metrics on
-- Tracing stays unsampled in both (a traceparent is sent, nothing is
-- recorded), as in --telemetry's "off", which has no exporter at all.
-- Each block is its own lira.run (c tasks, k/c calls each, the client of
-- lira_client.lua): its log lines are written before it returns, so a
-- block pays for its own lines. A pair runs the two in a random order.
--
-- usage: lua5.4 lira_telemetry_ab.lua <url> <pairs> <k> [c]
-- prints one line per pair:
--   PAIR i=<i> c=<c> k=<k> off=<cpu s> unsampled=<cpu s>
local lira = require "lira"
local core = require "lira.core"

local url, npairs, k, c = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4] or "1")
assert(url and npairs and k and c and k >= c and c >= 1,
       "usage: lira_telemetry_ab.lua <url> <pairs> <k> [c]")
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

-- CPU seconds of one block: k calls over c tasks, in a lira.run of its own.
local function block(count)
  local cpu0 = os.clock()
  lira.run(function()
    local tasks = {}
    for i = 1, c do tasks[i] = lira.spawn(worker, count // c + (i <= count % c and 1 or 0)) end
    for i = 1, c do assert(tasks[i]:join()) end
  end)
  return os.clock() - cpu0
end

local setups = {
  off = function() lira.log.level("off"); core.metrics_builtin(false) end,
  unsampled = function() lira.log.level("info"); core.metrics_builtin(true) end,
}

-- connections open, series made, caches warm: one block of each, not counted
for _, name in ipairs { "unsampled", "off" } do
  setups[name]()
  block(k)
end

math.randomseed(1)
for i = 1, npairs do
  local order = math.random(2) == 1 and { "off", "unsampled" } or { "unsampled", "off" }
  local t = {}
  for _, name in ipairs(order) do
    setups[name]()
    t[name] = block(k)
  end
  print(("PAIR i=%d c=%d k=%d off=%.6f unsampled=%.6f"):format(i, c, k, t.off, t.unsampled))
end
if failed > 0 then
  io.stderr:write(("lira_telemetry_ab: %d calls failed\n"):format(failed))
  os.exit(1)
end
