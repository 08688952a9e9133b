-- orders_sync.lua — a paginated, checkpointed sync, run by `lira run`.
--
--   lira sandbox --listen 127.0.0.1:8080 &
--   SHOP_URL=http://127.0.0.1:8080 lira run --listen 9090 examples/
--
-- Every 5 s (±10 % jitter, never two runs at once) it checks the shop's
-- stock endpoint, then walks the orders collection page by page. The
-- checkpoint is written after each page is consumed, so a process killed in
-- the middle resumes at the next page on restart (at-least-once; the body
-- is an idempotent upsert keyed by id). The client rides out the
-- sandbox's 503 bursts and 429s: retries with backoff, Retry-After, the
-- breaker — the loop below never sees them unless every retry failed.
local lira = require "lira"

local shop = lira.client {
  name     = "shop",
  base_url = lira.config("SHOP_URL"),
  version  = { header = "Shop-Version", value = "2024-06-01" },
  timeout  = { connect = 2, read = 2, deadline = 10 },
  retry    = { attempts = 4, base = 0.1, cap = 2 },
  breaker  = { window = 10, min_calls = 5, failure_rate = 0.5, cooldown = 3 },
  fallback = false,            -- a failed sync run is retried by the next run
}

return lira.integration {
  name  = "orders",
  every = 5,

  sync = function(ctx)
    -- A flaky endpoint (503 bursts, 429 + Retry-After in the demo scenario).
    local stock, err = shop:get("/inventory")
    if not stock or not stock.ok then   -- no response, or a final 5xx/429 after the retries
      ctx.log.warn("inventory unavailable, syncing orders anyway",
                   { error = err and tostring(err) or ("HTTP " .. stock.status) })
    end

    local n = 0
    for order in shop:paginate("/paginate/cursor", {
      strategy = "cursor", query = { total = 57, limit = 10 },
      items = "data", cursor = "meta.next", has_more = "meta.has_more",
      cursor_param = "starting_after",
      checkpoint = "orders-sync",
    }) do
      ctx.state:set("order:" .. order.id, order)   -- idempotent upsert
      n = n + 1
    end
    local total = (ctx.state:get("synced") or 0) + n
    ctx.state:set("synced", total)
    ctx.log.info("orders synced", { items = n, total = total })
  end,

  stop = function(ctx)
    ctx.log.info("orders: stopping", { synced = ctx.state:get("synced") or 0 })
  end,
}
