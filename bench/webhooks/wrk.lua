-- wrk script: POST pre-signed webhooks (gen.py) to /hooks/bench, each
-- thread its own slice of the file, so every id is sent once unless the
-- run outlasts the file (then ids repeat and the answers count as
-- duplicates). Prints the answers by status and the ack latency quantiles.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local reqs, i, codes = {}, 0, {}

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
