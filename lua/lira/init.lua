-- lira: resilient web-API integrations, driven from Lua.
-- This file is `require "lira"`; the C half is `lira.core`. It only
-- gathers the public API (LUA-API.md) from the modules that implement it.
local core = require "lira.core"
local client = require "lira.client"

local M = {}

M.version = core.version

-- JSON (C): lira.null is JSON null; lira.array(t) marks t to encode as [].
M.null = core.null
M.array = core.array
M.json = { encode = core.json_encode, decode = core.json_decode }

-- Tasks and time (C, §2).
M.spawn = core.spawn
M.sleep = core.sleep
M.now = core.now
M.run = core.run
M.loop = core.loop

-- Clients (§3), standalone breakers and limiters (§3.3).
M.client = client.new
M.breaker = client.breaker
M.limiter = client.limiter

M.auth = require "lira.auth"          -- §6
M.fallback = require "lira.fallback"  -- §5

-- Durable state (§4, docs/state.md): checkpoints, kv state, idempotency keys.
local state = require "lira.state"
M.checkpoint = state.checkpoint
M.state = state.state
M.idempotency = state.idempotency
M.config = require("lira.config").get

-- Observability (§9, docs/observability.md): JSON log lines and Prometheus
-- metrics, formatted in C by the engine's telemetry hub.
M.log = core.log
M.metrics = core.metrics

-- Traces (§9, docs/observability.md): lira.trace.span(name, fn) runs fn(span)
-- inside a child span of the current one; lira.trace.current() returns
-- trace_id, span_id, traceparent (nil outside any span).
M.trace = { span = core.trace_span, current = core.trace_current }

-- Webhooks (§7, docs/webhooks.md): lira.webhook.verify{...} checks a received
-- delivery's signature (Standard Webhooks, Stripe, GitHub, generic HMAC).
M.webhook = require "lira.webhook"

-- Integrations (§8, docs/runtime.md): the value a file that `lira run`
-- loads returns; validated here, scheduled and supervised by the runtime.
M.integration = require("lira.integration").new

return M
