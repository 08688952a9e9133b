-- The integration `scripts/bench_webhooks` runs: one generic-hmac route, a
-- handler that does nothing (the bench measures receiving: verify, dedupe,
-- durable insert, ack).
local lira = require "lira"
return lira.integration { name = "bench", webhooks = {
  ["/hooks/bench"] = { verify = { scheme = "hmac", secret = "bench-secret", header = "X-Sig",
                                  prefix = "sha256=" },
                       id = "header:X-Id", handle = function() end } } }
