-- lira.await: client:await(res_or_start, opts) — the "202 Accepted, then poll
-- the status URL" pattern of long-running operations (docs/pagination.md,
-- "Long-running operations").
--
-- It finds the status URL (Operation-Location, then Location, or a dotted
-- JSON path), polls it through the client (so every poll has retries,
-- breaker and limiter) waiting Retry-After or a doubling interval between
-- polls, and returns the first response that is final (by default: any
-- status but 202; a 303 to the result is followed by the transport). It
-- never waits past its deadline.
--
-- With `checkpoint = name` the status URL is stored before the first poll,
-- so a restarted process that calls await again with the same name keeps
-- polling the SAME operation instead of starting a new one (pass a function
-- that starts the operation: it is only called when nothing is pending).
local core = require "lira.core"
local schema = require "lira.schema"

local M = {}
local S = schema

local RECORD_VERSION = 1

local OPTIONS = S.group({
  { "url", S.string { pattern = "^[^.][^%c]*$", what = "a dotted path (\"links.status\")",
      doc = "dotted path to the status URL in the first response's JSON body; none = the " ..
            "Operation-Location header, then Location" } },
  { "header", S.string { pattern = "^[%w!#$%%&'*+%-.^_`|~]+$", what = "a header name",
      doc = "read the status URL from this header only" } },
  { "done", S.func { doc = "done(res) -> true when res is the final answer; default: any " ..
                           "status but 202" } },
  { "interval", S.number { above = 0, max = 86400, default = 1,
      doc = "seconds before a poll when the server sent no Retry-After; doubles each poll" } },
  { "max_interval", S.number { above = 0, max = 86400, default = 30,
      doc = "largest interval between polls, seconds (a server's Retry-After is always " ..
            "honoured, up to the deadline)" } },
  { "timeout", S.number { above = 0, default = 300, false_ok = true,
      doc = "seconds await may take in all; false = no limit (deadline still applies)" } },
  { "deadline", S.number { doc = "absolute lira.now() value to give up at (wins over timeout " ..
                                 "when earlier)" } },
  { "headers", S.custom(function(v) return type(v) == "table", v end, "a table",
      { doc = "headers of every poll" }) },
  { "checkpoint", S.string { pattern = "^[^%c]+$", what = "a non-empty name",
      doc = "store the status URL under this name; a rerun resumes polling it" } },
  { "clear", S.boolean { default = true,
      doc = "reset the checkpoint once the final response is returned; false = keep it " ..
            "(marked done: a rerun fetches the final response again, until you reset it)" } },
})

function M.option_rows()
  return S.rows(OPTIONS)
end

local function lira_error(kind, message, fields)
  return require("lira.client").error(kind, message, fields)
end

local function checkpoint_object(name)
  local lira = require "lira"
  if type(lira.checkpoint) ~= "function" then
    error("await: option checkpoint needs lira.checkpoint (the state store), which is not " ..
          "available", 3)
  end
  return lira.checkpoint(name)
end

local function default_done(res)
  return res.status ~= 202
end

-- The status URL a response points to (resolved against its URL), or nil.
local function status_url(res, o)
  local ref
  if o.url then
    local ok, body = pcall(res.json, res)
    if ok then
      ref = body
      for key in o.url:gmatch("[^.]+") do
        if type(ref) ~= "table" then ref = nil break end
        ref = ref[key]
      end
    end
  elseif o.header then
    ref = res.headers[o.header]
  else
    ref = res.headers["operation-location"] or res.headers["location"]
  end
  if type(ref) ~= "string" or ref == "" then return nil end
  return require("lira.paginate").resolve(res.url, ref)
end

local function retry_after(res)
  local v = res.headers["retry-after"]
  if v == nil then return nil end
  return (core.retry_after(v))
end

-- The pending record of the checkpoint, or nil; raises on a foreign value.
local function pending(cp, name)
  local rec = cp:get()
  if rec == nil then return nil end
  if type(rec) ~= "table" or rec.v ~= RECORD_VERSION or type(rec.url) ~= "string" then
    error(("await: checkpoint %q does not hold an operation; reset it"):format(name), 3)
  end
  return rec
end

-- Poll url until a final response, the deadline, or a failed poll.
local function poll(client, url, o, deadline, cp, rec)
  local done = o.done or default_done
  local wait = rec.wait or o.interval
  local interval = o.interval
  while true do
    local left = deadline - core.now()
    if wait > left then
      if left > 0 then core.sleep(left) end
      return nil, lira_error("deadline", ("await: the operation at %s was not done before the " ..
                                          "deadline (%d polls)"):format(url, rec.polls),
                             { url = url, polls = rec.polls, retryable = true })
    end
    if wait > 0 then core.sleep(wait) end
    local res, err = client:get(url, { headers = o.headers, deadline = deadline })
    if res == nil then return nil, err end
    rec.polls = rec.polls + 1
    if done(res) then return res end
    local nurl = status_url(res, o)
    if nurl and nurl ~= url then
      url, rec.url = nurl, nurl
      if cp then cp:set(rec) end
    end
    interval = math.min(interval * 2, o.max_interval)
    wait = retry_after(res) or interval
  end
end

-- client:await(start, opts) -> final res | nil, err
--   start: a response (202 ...), a function() -> res, err that starts the
--   operation (called only when the checkpoint holds none pending), or nil
--   (resume the checkpoint's operation).
function M.await(client, start, opts)
  if type(client) ~= "table" or type(client.get) ~= "function" then
    error("bad argument #1 to 'await' (lira client expected; call it as client:await(...))", 2)
  end
  local ok, o = pcall(S.validate, OPTIONS, opts, "await")
  if not ok then error(o, 2) end
  if o.url and o.header then error("await: give either url or header, not both", 2) end
  local st = type(start)
  if start ~= nil and st ~= "function" and st ~= "userdata" and st ~= "table" then
    error("bad argument #1 to 'await' (response, function or nil expected, got " .. st .. ")", 2)
  end
  local deadline = o.deadline or math.huge
  if o.timeout then deadline = math.min(deadline, core.now() + o.timeout) end
  local cp = o.checkpoint and checkpoint_object(o.checkpoint)
  local rec = cp and (st == "function" or start == nil) and pending(cp, o.checkpoint) or nil
  if rec == nil then
    if start == nil then
      error("await: nothing to await (no response given and no pending operation" ..
            (o.checkpoint and (" in checkpoint %q)"):format(o.checkpoint) or ")"), 2)
    end
    local res, err = start, nil
    if st == "function" then res, err = start() end
    if res == nil then return nil, err end
    if (o.done or default_done)(res) then return res end
    local url = status_url(res, o)
    if url == nil then
      return nil, lira_error("protocol", ("await: HTTP %d without a status URL (%s)")
                             :format(res.status, o.url and ("body." .. o.url)
                                     or o.header or "Operation-Location or Location"),
                             { status = res.status, response = res })
    end
    rec = { v = RECORD_VERSION, url = url, polls = 0,
            wait = retry_after(res) or o.interval }
    if cp then cp:set(rec) end
  else
    -- A restarted process polls at once: the wait it was in is unknown.
    rec.polls = math.tointeger(rec.polls) or 0
    rec.wait = 0
  end
  local res, err = poll(client, rec.url, o, deadline, cp, rec)
  if res and cp then
    if o.clear then
      cp:reset()
    else
      rec.done = true
      cp:set(rec)
    end
  end
  return res, err
end

return M
