-- lira: resilient web-API integrations, driven from Lua.
-- This file is `require "lira"`; the C half is `lira.core`. It only
-- gathers the public API (LUA-API.md) from the modules that implement it.
-- `lira run` makes one Lua state per integration, so what this file loads
-- is paid a thousand times: the rarely used parts (auth, fallback, state,
-- webhook, ...) are required on first access instead (`lazy` below).
local core = require "lira.core"
local client = require "lira.client"

local M = {}

-- key -> function returning its value; the value is then stored in M, so
-- the second access is a plain field read.
local lazy = {}
setmetatable(M, { __index = function(t, k)
  local f = lazy[k]
  if f == nil then return nil end
  local v = f()
  rawset(t, k, v)
  return v
end })

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

function lazy.auth() return require "lira.auth" end          -- §6
function lazy.fallback() return require "lira.fallback" end  -- §5

-- Durable state (§4, docs/state.md): checkpoints, kv state, idempotency keys.
function lazy.checkpoint() return require("lira.state").checkpoint end
function lazy.state() return require("lira.state").state end
function lazy.idempotency() return require("lira.state").idempotency end
function lazy.config() return require("lira.config").get end

-- Observability (§9, docs/observability.md): JSON log lines and Prometheus
-- metrics, formatted in C by the engine's telemetry hub.
M.log = core.log
M.metrics = core.metrics

-- Traces (§9, docs/observability.md): lira.trace.span(name, fn) runs fn(span)
-- inside a child span of the current one; lira.trace.current() returns
-- trace_id, span_id, traceparent (nil outside any span); lira.trace.flush()
-- sends the ended spans now and waits for the collector (lira/trace.lua).
M.trace = { span = core.trace_span, current = core.trace_current,
            flush = function(...) return require("lira.trace").flush(...) end }

-- Webhooks (§7, docs/webhooks.md): lira.webhook.verify{...} checks a received
-- delivery's signature (Standard Webhooks, Stripe, GitHub, generic HMAC).
function lazy.webhook() return require "lira.webhook" end

-- Integrations (§8, docs/runtime.md): the value a file that `lira run`
-- loads returns; validated here, scheduled and supervised by the runtime.
function lazy.integration() return require("lira.integration").new end

return M
