-- resilient_calls.lua — what a lira client does for you, against `lira sandbox`.
--
--   lira sandbox --listen 127.0.0.1:8080 &
--   SHOP_URL=http://127.0.0.1:8080 lua5.4 examples/plain/resilient_calls.lua
--
-- A plain Lua 5.4 script: no runtime needed. Every call below goes through
-- the same C pipeline: rate limiter -> circuit breaker -> attempt -> retry
-- decision (backoff + jitter, Retry-After, retry budget) -> next attempt.
local lira = require "lira"

local shop = lira.client {
  name     = "shop",
  base_url = lira.config("SHOP_URL"),
  version  = { header = "Shop-Version", value = "2024-06-01" },
  timeout  = { connect = 2, read = 5, deadline = 20 },
  retry    = { attempts = 4, base = 0.05, cap = 1 },   -- short, so the demo is quick
  breaker  = { window = 10, min_calls = 10, failure_rate = 0.5, cooldown = 2, half_open = 1 },
}

local function say(fmt, ...) io.write(fmt:format(...), "\n") end

-- 1. A flaky upstream: two 503s, then a 200. One logical call, three attempts.
local res = assert(shop:get("/flaky/{key}", { params = { key = "demo-" .. os.time() },
                                             query = { fail = 2, status = 503 } }))
say("flaky endpoint: HTTP %d after %d attempts (%.2f s, request id %s)",
    res.status, res.attempts, res.elapsed, res.request_id)

-- 2. 429 with Retry-After: the retry waits at least that long.
res = assert(shop:get("/flaky/{key}", { params = { key = "ra-" .. os.time() },
                                       query = { fail = 1, status = 429 } }))
say("rate-limited once, then: HTTP %d after %d attempts", res.status, res.attempts)

-- 3. A payment: POST is retried only with an idempotency key, and the same key
--    goes out on every attempt, so the upstream records one effect.
res = assert(shop:post("/payments", { json = { amount = 500, currency = "EUR" },
                                      idempotency_key = true,
                                      query = { fail_first = 2 } }))
say("payment: HTTP %d after %d attempts, id %s", res.status, res.attempts, res:json().id)

-- 4. Errors are values: a call that cannot succeed returns nil, err.
local _, err = shop:get("/delay/{ms}", { params = { ms = 3000 },
                                         timeout = { read = 0.2 }, retry = false })
say("slow endpoint: %s (kind %s)", tostring(err), err.kind)

-- 5. The breaker: after enough failures it opens and fails fast, without traffic.
for _ = 1, 10 do shop:get("/status/500", { retry = false }) end
_, err = shop:get("/status/200")
say("after 10 failures the breaker is %s: %s (retry in %.1f s)",
    shop.breaker:state(), err.kind, err.retry_after or -1)

-- 6. Concurrency: twenty calls at once on pooled connections, in plain Lua.
shop.breaker:reset()
local ok = lira.run(function()
  local tasks = {}
  for i = 1, 20 do
    tasks[i] = lira.spawn(function()
      return shop:get("/delay/{ms}", { params = { ms = 100 } }).status
    end)
  end
  local n = 0
  for _, t in ipairs(tasks) do
    local done, status = t:join()
    if done and status == 200 then n = n + 1 end
  end
  return n
end)
say("20 concurrent 100 ms calls: %d succeeded", ok)
