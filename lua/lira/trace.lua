-- lira.trace.flush([timeout]): OpenTelemetry's ForceFlush. The spans that
-- have ended go to the collector now rather than at the batch delay
-- (OTEL_BSP_SCHEDULE_DELAY), and the caller waits until the collector has
-- answered for all of them: true, or nil and a "timeout" error when some are
-- still on their way after `timeout` seconds (default 5; they stay queued
-- and are sent as usual). With no exporter it returns true at once.
--
-- In a task it sleeps between checks, so other tasks run; called from a
-- plain host's main thread, lira.sleep drives the loop (docs/lua-api.md §2).
local core = require "lira.core"
local client = require "lira.client"

local M = {}

-- Seconds between checks: the first soon (an export to a collector nearby
-- takes about a millisecond), then doubling, so a slow collector costs a
-- wake-up every 32 ms rather than one per millisecond.
local POLL_FIRST, POLL_MAX = 0.001, 0.032

function M.flush(timeout)
  if timeout ~= nil and (math.type(timeout) == nil or not (timeout >= 0) or timeout == math.huge) then
    error(("bad argument #1 to 'flush' (timeout must be a finite number of seconds >= 0, got %s)")
          :format(tostring(timeout)), 2)
  end
  timeout = timeout or 5
  local deadline = core.now() + timeout
  local pending, poll = core.trace_flush_step(), POLL_FIRST
  while pending > 0 do
    local left = deadline - core.now()
    if left <= 0 then
      return nil, client.error("timeout",
        ("%d span(s) not yet delivered after %gs"):format(pending, timeout),
        { pending = pending })
    end
    core.sleep(poll < left and poll or left)
    poll = poll * 2 < POLL_MAX and poll * 2 or POLL_MAX
    pending = core.trace_flush_step()
  end
  return true
end

return M
