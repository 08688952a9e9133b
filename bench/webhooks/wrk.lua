-- wrk script: POST pre-signed webhooks (gen.py) to /hooks/bench, each
-- thread its own slice of the file, so every id is sent once unless the
-- run outlasts the file (then ids repeat and the answers count as
-- duplicates). Prints the answers by status and the ack latency quantiles.
--
-- With LIRA_BENCH_RATE=<requests/s> set, each thread spaces its sends
-- evenly at its share of that rate (wrk's delay() hook, a monotonic clock
-- through LuaJIT's ffi) instead of sending as fast as answers come back:
-- the latency at a given load, not at saturation. Without it no delay()
-- is defined at all, so wrk's saturated path is untouched.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local reqs, i, codes = {}, 0, {}
local RATE = tonumber(os.getenv("LIRA_BENCH_RATE") or "")
local interval_ms, next_ms   -- this thread's spacing, its next send slot

function init(args)
  local file, nthreads = args[1], tonumber(args[2])
  local k = 0
  for line in io.lines(file) do
    if k % nthreads == tid then
      local id, sig, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", "/hooks/bench",
        { ["Content-Type"] = "application/json", ["X-Id"] = id, ["X-Sig"] = "sha256=" .. sig },
        body)
    end
    k = k + 1
  end
  if RATE and RATE > 0 then interval_ms = 1000 * nthreads / RATE end
end

if RATE and RATE > 0 then
  local ffi = require "ffi"
  ffi.cdef [[
    typedef struct { long tv_sec; long tv_nsec; } lira_bench_ts;
    int clock_gettime(int clk, lira_bench_ts *ts);
  ]]
  local ts = ffi.new("lira_bench_ts")
  local function now_ms()
    ffi.C.clock_gettime(1, ts)   -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
  end
  function delay()
    local now = now_ms()
    local slot = math.max(next_ms or now, now)
    next_ms = slot + interval_ms
    return math.floor(slot - now + 0.5)
  end
end

function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end

function response(status)
  codes[status] = (codes[status] or 0) + 1
  accepted = codes[202] or 0
  duplicate = codes[200] or 0
  other = 0
  for s, n in pairs(codes) do if s ~= 200 and s ~= 202 then other = other + n end end
end

function done(summary, latency)
  local a, d, o = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + (t:get("accepted") or 0)
    d = d + (t:get("duplicate") or 0)
    o = o + (t:get("other") or 0)
  end
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT accepted=%d duplicate=%d other=%d errors=%d rate=%.0f " ..
    "p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", a, d, o,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout + summary.errors.status, (a + d) / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
