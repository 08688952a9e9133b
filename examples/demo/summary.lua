-- The demo's closing summary: what `lira run examples/` did, from its
-- /admin/integrations JSON, its /metrics text and its JSON log lines.
--   lua5.4 summary.lua ADMIN_JSON METRICS_TXT LOG_FILE METRICS_URL
local lira = require "lira"
local admin_f, metrics_f, log_f, url = ...

local function read(p) local f = assert(io.open(p)) local s = f:read("a") f:close() return s end
local admin = lira.json.decode(read(admin_f))
local metrics = read(metrics_f)

-- Sum of a metric's series whose labels contain every given label=value.
local function sum(name, want)
  local total = 0
  for labels, v in metrics:gmatch("\n" .. name .. "{([^}]*)} ([%d%.e%+%-]+)") do
    local ok = true
    for k, val in pairs(want) do
      if not labels:find(k .. '="' .. val .. '"', 1, true) then ok = false end
    end
    if ok then total = total + tonumber(v) end
  end
  return total
end

local synced = 0
for line in read(log_f):gmatch("[^\n]+") do
  if line:find('"msg":"orders synced"', 1, true) then
    synced = tonumber(line:match('"total":(%d+)')) or synced
  end
end

print("== what lira run did")
for _, i in ipairs(admin.integrations) do
  print(("-- %s (%s, generation %d): status %s, %d runs, %d failed, %d skipped, %d restarts")
    :format(i.name, i.file:match("[^/]+$"), i.generation, i.status, i.runs, i.run_errors,
            i.skipped, i.restarts))
  for _, c in ipairs(i.clients) do
    local calls = sum("lira_client_requests_total", { client = c.name })
    local retries = sum("lira_client_retries_total", { client = c.name })
    local trips = sum("lira_breaker_transitions_total", { client = c.name })
    local opened = sum("lira_breaker_transitions_total", { client = c.name, to = "open" })
    print(("   client %-9s %4d calls, %3d retries, %d breaker transitions (%d to open), " ..
           "breaker now %s"):format(c.name, calls, retries, trips, opened, tostring(c.breaker)))
  end
  if i.name == "orders" then print(("   items synced: %d"):format(synced)) end
  if i.last_error and i.last_error ~= lira.null then
    print("   last error: " .. i.last_error.message)
  end
end
print(("\nmetrics were at %s/metrics, the admin page at %s/admin/integrations"):format(url, url))
