-- lira.paginate: client:paginate(path, opts) (LUA-API.md §4, docs/pagination.md).
--
-- A plain stateful iterator (a closure over one table), never a
-- coroutine.wrap: the page requests it makes inside a `for` loop are client
-- calls, so inside a lira task they yield to the loop like any other call.
--
-- Every stop is explicit (the strategy's condition, or an error): a page
-- whose next position repeats one already fetched in this iteration raises,
-- and so does reaching max_pages with a next page still to fetch; an API bug
-- never becomes an infinite loop or a silent early stop.
--
-- With `checkpoint = name` the position of the NEXT page is written to the
-- store once the loop body has been handed every item of a page and asked
-- for more (so it has consumed them); a new process with the same name
-- resumes there: a crash re-delivers at most one page and skips none.
--
-- This module is the iterator (fetch a page, hand out its items, move on);
-- its parts are lira.paginate_options (the options), lira.paginate_strategy
-- (how each strategy finds the next page), lira.paginate_checkpoint (the
-- stored position) and lira.paginate_url (link resolution).
local core = require "lira.core"
local checkpoint = require "lira.paginate_checkpoint"
local options = require "lira.paginate_options"
local paginate_url = require "lira.paginate_url"
local strategy = require "lira.paginate_strategy"

local M = {}
local STRATEGY = strategy.by_name
local raise, get_path, copy = strategy.raise, strategy.get_path, strategy.copy

-- The documentation rows of the options (docs/pagination.md is written from these).
M.option_rows = options.rows

-- RFC 3986 §5.2 resolution of `ref` against the absolute URL `base`.
M.resolve = paginate_url.resolve

-- A positive integer page size from query[name], or nil.
local function size_of(query, name)
  local v = tonumber(query[name])
  if v and v >= 1 and v == math.floor(v) then return math.tointeger(v) end
  return nil
end

-- ------------------------------------------------------------ progress ---

-- Pages and items fetched, labelled by checkpoint name ("none" without one;
-- a name is chosen in code, so the label stays bounded); a debug line per
-- page and an info line at most every PROGRESS_EVERY seconds of a long
-- iteration (docs/observability.md). The path is logged without its query:
-- secrets ride there.
local PROGRESS_EVERY = 5

local function progress(p, page)
  local label = { checkpoint = p.o.checkpoint or "none" }
  local n = #page.items
  p.fetched = p.fetched + n
  local m, log = core.metrics, core.log
  if m then
    m.counter("lira_paginate_pages_total", label, "Pages fetched by client:paginate"):inc()
    m.counter("lira_paginate_items_total", label, "Items fetched by client:paginate"):inc(n)
  end
  if not log then return end
  local endpoint = p.path:match("^[^?#]*")
  log.debug("paginate page", { client = p.client.name, endpoint = endpoint, page = page.number,
                               items = n, checkpoint = p.o.checkpoint })
  local now = core.now()
  p.reported = p.reported or p.started
  if now - p.reported >= PROGRESS_EVERY then
    p.reported = now
    local elapsed = now - p.started
    log.info("paginate progress", {
      client = p.client.name, endpoint = endpoint, checkpoint = p.o.checkpoint,
      pages = page.number, items = p.fetched, elapsed_s = elapsed,
      items_per_s = elapsed > 0 and p.fetched / elapsed or 0 })
  end
end

-- ----------------------------------------------------------- fetching ---

local function items_of(page, body, path)
  local items = body
  if path then items = get_path(body, path) end
  if type(items) ~= "table" or (items[1] == nil and next(items) ~= nil) then
    local what = items == core.null and "null" or type(items)
    if path then
      raise("pagination", ("page %d: no array at %q (found %s)"):format(page.number, path, what),
            { page = page.number })
    end
    raise("pagination", ("page %d: the body is not a JSON array (found %s); give option items")
          :format(page.number, what), { page = page.number })
  end
  return items
end

local function call_opts(p, req)
  local o = p.o
  local headers = req.headers
  if o.headers then
    headers = copy(o.headers)
    for k, v in pairs(req.headers or {}) do headers[k] = v end
  end
  return { query = req.query, headers = headers, timeout = o.timeout or nil,
           retry = o.retry }
end

local function fetch(p)
  local o, strat = p.o, STRATEGY[p.o.strategy]
  local number = p.number + 1
  local key = strat.key(p.pos)
  if number > o.max_pages then
    raise("pagination", ("%s: max_pages (%d) reached with a next page still to fetch (%s); " ..
                         "raise max_pages if the API really has more")
          :format(p.path, o.max_pages, key or "first page"), { page = number })
  end
  if key then
    if p.seen[key] then
      raise("pagination", ("%s: page %d would fetch %s again (already fetched as page %d): " ..
                           "the API is looping"):format(p.path, number, key, p.seen[key]),
            { page = number })
    end
    p.seen[key] = number
  end
  local req = strat.request(p, p.pos)
  p.started = p.started or core.now()
  local res, err = p.client:get(req.path, call_opts(p, req))
  if res == nil then
    raise(err and err.kind or "transport", ("%s: page %d failed: %s")
          :format(p.path, number, tostring(err)), { page = number, cause = err })
  end
  local rt = type(res)
  if (rt ~= "table" and rt ~= "userdata") or type(res.status) ~= "number" then
    raise("pagination", ("%s: page %d: the call returned no response"):format(p.path, number),
          { page = number })
  end
  if res.status < 200 or res.status > 299 then
    raise("status", ("%s: page %d failed: HTTP %d"):format(p.path, number, res.status),
          { page = number, status = res.status, response = res })
  end
  local ok, body = pcall(res.json, res)
  if not ok then
    raise("pagination", ("%s: page %d: the body is not JSON: %s")
          :format(p.path, number, tostring(body)), { page = number, response = res })
  end
  local page = { number = number, cursor = strat.shown(p.pos), response = res,
                 request = req, position = p.pos }
  page.items = items_of(page, body, o.items)
  p.number = number
  p.page, p.i = page, 0
  p.next = strat.next(p, page, body)
  page.next = p.next and strat.shown(p.next)
  progress(p, page)
end

-- Every item of the current page has been consumed (the loop body asked
-- for the next one): fold the bookmark, persist, move on.
local function finish_page(p)
  local page = p.page
  p.consumed = p.consumed + #page.items
  if p.o.bookmark then
    for _, item in ipairs(page.items) do p.bookmark = p.o.bookmark(item, p.bookmark) end
  end
  checkpoint.save(p, page, p.next)
  p.page = nil
  if p.next == nil then p.finished = true else p.pos = p.next end
end

local function step(p)
  while true do
    local page = p.page
    if page then
      local i = p.i + 1
      if i <= #page.items then
        p.i = i
        return page.items[i], page
      end
      finish_page(p)
    end
    if p.finished then return nil end
    fetch(p)
  end
end

-- client:paginate(path, opts) -> iterator yielding item, page
function M.paginate(client, path, opts)
  if type(client) ~= "table" or type(client.get) ~= "function" then
    error("bad argument #1 to 'paginate' (lira client expected; call it as client:paginate(...))",
          2)
  end
  if type(path) ~= "string" or path == "" then
    error("bad argument #2 to 'paginate' (path expected, got " .. type(path) .. ")", 2)
  end
  local ok, o = pcall(options.check, opts)
  if not ok then error(o, 2) end
  local p = { client = client, path = path, o = o, pos = {}, number = 0, consumed = 0,
              seen = {}, finished = false, fetched = 0 }
  if o.checkpoint then checkpoint.load(p) end
  local q = o.query
  if type(q) == "function" then q = q(p.since) end
  if type(q) ~= "table" and q ~= nil then
    error("paginate: option query (a function) must return a table", 2)
  end
  p.base = copy(q)
  if o.strategy == "offset" then
    p.size = size_of(p.base, o.limit_param)
    if not p.size and not o.total then
      error(("paginate: strategy offset needs the page size as query.%s (or option total)")
            :format(o.limit_param), 2)
    end
    p.size = p.size or math.huge
  elseif o.strategy == "page" then
    p.size = size_of(p.base, o.per_page_param)
  end
  return function() return step(p) end
end

return M
