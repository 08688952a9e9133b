-- payments.lua — a write path with idempotency keys and a fallback, run by
-- `lira run` (see orders_sync.lua for how to start it).
--
-- Every 2 s it charges the next order. The idempotency key is derived from
-- the order id and kept in the state store, so every retry — and a rerun
-- after a crash — sends the same key and the upstream applies the payment
-- once. The ledger lookup has a fallback: when the ledger is down (the demo
-- scenario takes it down long enough to open the breaker) the run goes on
-- with "pending" instead of failing, and the breaker stops hammering it.
local lira = require "lira"

local shop = lira.client {
  name     = "payments",
  base_url = lira.config("SHOP_URL"),
  version  = { header = "Shop-Version", value = "2024-06-01" },
  timeout  = { connect = 2, read = 3, deadline = 10 },
  retry    = { attempts = 5, base = 0.1, cap = 1 },
  fallback = false,            -- a payment that fails is retried next run, same key
}

local ledger = lira.client {
  name     = "ledger",
  base_url = lira.config("SHOP_URL"),
  version  = { header = "Ledger-Version", value = "2" },
  timeout  = { connect = 1, read = 1, deadline = 3 },
  retry    = { attempts = 2, base = 0.05 },
  breaker  = { window = 10, min_calls = 4, failure_rate = 0.5, cooldown = 3, half_open = 1 },
  fallback = function(req, err)   -- degrade, do not fail the run
    return { status = 200, ok = true, body = '{"balance":"pending"}', fallback = true,
             json = function() return { balance = "pending" } end }
  end,
}

return lira.integration {
  name  = "payments",
  every = 2,

  sync = function(ctx)
    local n = (ctx.state:get("next_order") or 0) + 1
    local key = lira.idempotency.key("payments", "order-" .. n)
    local res, err = shop:post("/payments", {
      json = { order = n, amount = 100 * n, currency = "EUR" },
      idempotency_key = tostring(key),
      query = { fail_first = (n % 3 == 0) and 2 or 0 },   -- the sandbox loses some answers
    })
    if not res or res.status >= 300 then
      ctx.log.warn("payment not taken, retried next run with the same key",
                   { order = n, error = err and tostring(err) or res.status })
      return
    end
    key:done()
    ctx.state:set("next_order", n)
    local bal = ledger:get("/ledger")
    ctx.log.info("payment taken", { order = n, attempts = res.attempts,
                                    ledger = bal.fallback and "fallback" or "live" })
  end,
}
