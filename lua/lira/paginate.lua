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
local core = require "lira.core"
local schema = require "lira.schema"

local M = {}
local S = schema

-- Checkpoint records carry this; a record of another version is refused.
local RECORD_VERSION = 1

-- ------------------------------------------------------------- errors ---

-- Iteration failures are raised as lira errors (kind, message, page, ...),
-- so `pcall` callers can tell a failed page request from a loop.
local function raise(kind, message, fields)
  local e = require("lira.client").error(kind, message, fields)
  error(e, 0)
end

-- ------------------------------------------------------------ options ---

local DOTTED = "^[^.][^%c]*$"

local function dotted(doc)
  return S.string { pattern = DOTTED, what = "a dotted path (\"meta.next\")", doc = doc }
end

local function param(default, doc)
  return S.string { pattern = "^[^%c&=]+$", what = "a query parameter name",
                    default = default, doc = doc }
end

local function passthrough(what, doc)
  return S.custom(function(v)
    if type(v) == "table" or v == false then return true, v end
    return false
  end, what, { doc = doc })
end

local OPTIONS = S.group({
  { "strategy", S.one_of { "cursor", "link", "offset", "page",
      doc = "how the next page is found; required unless next is given" } },
  { "next", S.func { doc = "custom strategy: next(res, page) -> request table, path string " ..
                           "or nil (= last page)" } },
  { "query", S.custom(function(v)
      if type(v) == "table" or type(v) == "function" then return true, v end
      return false
    end, "a table or a function(bookmark) -> table",
    { doc = "query of the first page (the strategy adds its own parameters); a function " ..
            "receives the bookmark this run starts from" }) },
  { "headers", passthrough("a table", "headers of every page request") },
  { "timeout", passthrough("a table", "timeout overrides of every page request") },
  { "retry", passthrough("a table or false", "retry overrides of every page request") },
  { "items", dotted("dotted path to the array of items; none = the body is the array") },
  { "cursor", dotted("cursor: dotted path to the next cursor (required for cursor)") },
  { "has_more", dotted("cursor: dotted path to a boolean; false stops") },
  { "cursor_param", param("cursor", "cursor: query parameter the cursor is sent in") },
  { "offset_param", param("offset", "offset: query parameter of the offset") },
  { "limit_param", param("limit", "offset: query parameter of the page size (read from query)") },
  { "total", dotted("offset: dotted path to the total count; reaching it stops") },
  { "page_param", param("page", "page: query parameter of the page number (from 1)") },
  { "per_page_param", param("per_page", "page: query parameter of the page size (read from " ..
                                        "query)") },
  { "max_pages", S.number { integer = true, min = 1, max = 1 << 40, default = 10000,
      doc = "a next page beyond this many raises an error (never a silent stop)" } },
  { "checkpoint", S.string { pattern = "^[^%c]+$", what = "a non-empty name",
      doc = "persist progress under this name; a rerun resumes after the last consumed page" } },
  { "completed", S.one_of { "restart", "continue", default = "restart",
      doc = "a run that finds its checkpoint completed: restart from the first page, or " ..
            "continue from the end (offset: the next offset; others: fetch the last page " ..
            "again)" } },
  { "bookmark", S.func { doc = "bookmark(item, current) -> new bookmark, folded over every " ..
                               "consumed item and kept in the checkpoint" } },
})

-- Options that only mean something for one strategy.
local OWNER = {
  cursor = "cursor", has_more = "cursor", cursor_param = "cursor",
  offset_param = "offset", limit_param = "offset", total = "offset",
  page_param = "page", per_page_param = "page",
}

-- The documentation rows of the options (docs/pagination.md is written from these).
function M.option_rows()
  return S.rows(OPTIONS)
end

local function fail(msg)
  error("paginate: " .. msg, 0)
end

local function check_options(given)
  local o = S.validate(OPTIONS, given, "paginate")
  if o.next and o.strategy then fail("give either strategy or next, not both") end
  if not o.next and not o.strategy then
    fail("option strategy is required (\"cursor\", \"link\", \"offset\" or \"page\") " ..
         "unless next is given")
  end
  local strat = o.strategy or "custom"
  for name, owner in pairs(OWNER) do
    if given[name] ~= nil and owner ~= strat then
      fail(("option %s applies to strategy %s, not %s"):format(name, owner, strat))
    end
  end
  if strat == "cursor" and not o.cursor then
    fail("strategy cursor needs option cursor (the dotted path to the next cursor)")
  end
  if not o.checkpoint and (given.completed ~= nil or o.bookmark) then
    fail("options completed and bookmark need a checkpoint")
  end
  o.strategy = strat
  return o
end

-- ------------------------------------------------------------ helpers ---

local function get_path(doc, path)
  local v = doc
  for key in path:gmatch("[^.]+") do
    if type(v) ~= "table" then return nil end
    v = v[key]
  end
  return v
end

local function copy(t)
  local out = {}
  for k, v in pairs(t or {}) do out[k] = v end
  return out
end

-- A canonical text of a JSON-like value (sorted keys), for loop detection.
local function canon(v)
  if type(v) ~= "table" then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do
    local x = v[k]
    if x == nil then x = v[tonumber(k)] end
    parts[i] = k .. "=" .. canon(x)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function scalar_text(v)
  if math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 2 ^ 53 then
    return tostring(math.tointeger(v))
  end
  return tostring(v)
end

-- A positive integer page size from query[name], or nil.
local function size_of(query, name)
  local v = tonumber(query[name])
  if v and v >= 1 and v == math.floor(v) then return math.tointeger(v) end
  return nil
end

-- --------------------------------------------------- URL resolution ---

local function split_url(u)
  local scheme, rest = u:match("^(%a[%w+.%-]*):(.*)$")
  if not scheme then return nil end
  local authority, path = rest:match("^//([^/?#]*)(.*)$")
  return scheme, authority, path or rest
end

-- RFC 3986 §5.2.4 on an absolute path.
local function remove_dots(path)
  local out, segs = {}, {}
  for seg in path:gmatch("/([^/]*)") do segs[#segs + 1] = seg end
  for i, seg in ipairs(segs) do
    local last = i == #segs
    if seg == ".." then
      out[#out] = nil
      if last then out[#out + 1] = "" end
    elseif seg == "." then
      if last then out[#out + 1] = "" end
    else
      out[#out + 1] = seg
    end
  end
  return "/" .. table.concat(out, "/")
end

-- RFC 3986 §5.2 resolution of `ref` against the absolute URL `base`.
function M.resolve(base, ref)
  if split_url(ref) then return ref end
  local scheme, authority, bpath = split_url(base)
  if not scheme or not authority then return nil end
  bpath = bpath:gsub("#.*$", "")
  local bquery = bpath:match("%?.*$") or ""
  bpath = bpath:gsub("%?.*$", "")
  if ref:sub(1, 2) == "//" then return scheme .. ":" .. ref end
  local frag = ref:match("#.*$") or ""
  ref = ref:gsub("#.*$", "")
  local rquery = ref:match("%?.*$")
  local rpath = ref:gsub("%?.*$", "")
  local path
  if rpath == "" then
    path = bpath
    rquery = rquery or bquery
  elseif rpath:sub(1, 1) == "/" then
    path = remove_dots(rpath)
  else
    local dir = bpath:match("^(.*/)") or "/"
    if dir:sub(1, 1) ~= "/" then dir = "/" .. dir end
    path = remove_dots(dir .. rpath)
  end
  return scheme .. "://" .. authority .. path .. (rquery or "") .. frag
end

-- --------------------------------------------------------- strategies ---
--
-- A position says which page to fetch: {} is the first page. Each strategy
-- turns a position into a request (with `base` = the first page's query),
-- says what `page.cursor` shows for it, and finds the next position from a
-- fetched page (nil = that was the last page). `tail` is where a completed
-- iteration continues from (completed = "continue"). `key` names a
-- position for loop detection.

local STRATEGY = {}

STRATEGY.cursor = {
  request = function(p, pos)
    local q = copy(p.base)
    if pos.cursor ~= nil then q[p.o.cursor_param] = pos.cursor end
    return { path = p.path, query = q }
  end,
  shown = function(pos) return pos.cursor end,
  key = function(pos) return pos.cursor and "cursor " .. ("%q"):format(pos.cursor) end,
  next = function(p, page, body)
    local o = p.o
    local c = get_path(body, o.cursor)
    local empty = c == nil or c == core.null or c == ""
    if o.has_more then
      local more = get_path(body, o.has_more)
      if type(more) ~= "boolean" then
        raise("pagination", ("page %d: has_more at %q is %s, not a boolean")
              :format(page.number, o.has_more, more == core.null and "null" or type(more)),
              { page = page.number })
      end
      if not more then return nil end
      if empty then
        raise("pagination", ("page %d: has_more is true but the cursor at %q is empty")
              :format(page.number, o.cursor), { page = page.number })
      end
    end
    if empty then return nil end
    if type(c) ~= "string" and type(c) ~= "number" then
      raise("pagination", ("page %d: the cursor at %q is a %s, not a string or number")
            :format(page.number, o.cursor, type(c)), { page = page.number })
    end
    return { cursor = scalar_text(c) }
  end,
  tail = function(p, pos) return pos end,
}

STRATEGY.link = {
  request = function(p, pos)
    if pos.url then return { path = pos.url } end
    return { path = p.path, query = copy(p.base) }
  end,
  shown = function(pos) return pos.url end,
  key = function(pos) return pos.url and "URL " .. pos.url end,
  next = function(p, page)
    local res = page.response
    -- The URL this page came from counts as seen too (res.url: after
    -- redirects; secrets in it are redacted, so it may only miss a match).
    local here = "URL " .. res.url
    p.seen[here] = p.seen[here] or page.number
    local uri, perr = core.link_find(res.headers["link"], "next")
    if perr then
      raise("pagination", ("page %d: %s"):format(page.number, perr), { page = page.number })
    end
    if uri == nil then return nil end
    local base = res.url
    local url = M.resolve(base, uri)
    if url == nil or (url ~= uri and base:find("^%a[%w+.%-]*://[^/?#]*@")) then
      -- res.url hides credentials in its userinfo, so a relative link
      -- cannot be resolved against it faithfully.
      raise("pagination", ("page %d: cannot resolve the next link %q against the request URL")
            :format(page.number, uri), { page = page.number })
    end
    return { url = url }
  end,
  tail = function(p, pos) return pos end,
}

STRATEGY.offset = {
  request = function(p, pos)
    local q = copy(p.base)
    q[p.o.offset_param] = pos.offset or q[p.o.offset_param] or 0
    return { path = p.path, query = q }
  end,
  shown = function(pos) return pos.offset end,
  key = function(pos) return pos.offset and "offset " .. pos.offset end,
  next = function(p, page, body)
    local o, n = p.o, #page.items
    local offset = math.tointeger(tonumber(page.request.query[o.offset_param])) or 0
    local nxt = offset + n
    if o.total then
      local total = get_path(body, o.total)
      if type(total) ~= "number" then
        raise("pagination", ("page %d: the total at %q is not a number")
              :format(page.number, o.total), { page = page.number })
      end
      if nxt >= total then return nil end
    elseif n < p.size then
      return nil
    end
    return { offset = nxt }
  end,
  tail = function(p, pos, page)
    local offset = math.tointeger(tonumber(page.request.query[p.o.offset_param])) or 0
    return { offset = offset + #page.items }
  end,
}

STRATEGY.page = {
  request = function(p, pos)
    local q = copy(p.base)
    q[p.o.page_param] = pos.page or 1
    return { path = p.path, query = q }
  end,
  shown = function(pos) return pos.page end,
  key = function(pos) return pos.page and "page " .. pos.page end,
  next = function(p, page)
    local n = #page.items
    if n == 0 or (p.size and n < p.size) then return nil end
    return { page = math.tointeger(tonumber(page.request.query[p.o.page_param]) or 1) + 1 }
  end,
  tail = function(p, pos) return pos end,
}

local REQ_KEYS = { path = true, query = true, headers = true }

STRATEGY.custom = {
  request = function(p, pos)
    local r = pos.request
    if not r then return { path = p.path, query = copy(p.base) } end
    local q = copy(p.base)
    for k, v in pairs(r.query or {}) do q[k] = v end
    return { path = r.path or p.path, query = q, headers = r.headers }
  end,
  shown = function(pos) return pos.request end,
  key = function(pos) return pos.request and "request " .. canon(pos.request) end,
  next = function(p, page)
    local r = p.o.next(page.response, page)
    if r == nil or r == false then return nil end
    if type(r) == "string" then r = { path = r } end
    if type(r) ~= "table" then
      raise("pagination", ("page %d: next returned a %s, not a request table, a path or nil")
            :format(page.number, type(r)), { page = page.number })
    end
    for k, v in pairs(r) do
      if not REQ_KEYS[k] then
        raise("pagination", ("page %d: next returned a request with unknown field %s " ..
                             "(path, query, headers)"):format(page.number, tostring(k)),
              { page = page.number })
      end
      if (k == "path" and type(v) ~= "string") or (k ~= "path" and type(v) ~= "table") then
        raise("pagination", ("page %d: next returned a request whose %s is a %s")
              :format(page.number, k, type(v)), { page = page.number })
      end
    end
    return { request = { path = r.path, query = r.query, headers = r.headers } }
  end,
  tail = function(p, pos) return pos end,
}

-- --------------------------------------------------------- checkpoint ---

local function checkpoint_object(name)
  local lira = require "lira"
  if type(lira.checkpoint) ~= "function" then
    fail("option checkpoint needs lira.checkpoint (the state store), which is not available")
  end
  return lira.checkpoint(name)
end

-- A position read back from JSON: integral numbers as integers again (a
-- query value 100.0 would be sent as "100.0").
local function ints(pos)
  if type(pos) ~= "table" then return {} end
  local out = {}
  for k, v in pairs(pos) do
    out[k] = (math.type(v) == "float" and math.tointeger(v)) or v
  end
  return out
end

-- Where this run starts: the stored record (resume), or a new pass.
local function load_checkpoint(p)
  local o = p.o
  p.cp = checkpoint_object(o.checkpoint)
  local rec = p.cp:get()
  if rec == nil then return end
  if type(rec) ~= "table" or rec.v ~= RECORD_VERSION or type(rec.pages) ~= "number" then
    fail(("checkpoint %q does not hold a pagination position; reset it " ..
          "(lira.checkpoint(%q):reset())"):format(o.checkpoint, o.checkpoint))
  end
  if rec.path ~= p.path or rec.strategy ~= o.strategy then
    fail(("checkpoint %q belongs to another iteration (%s, strategy %s), not %s with " ..
          "strategy %s; use another name or reset it")
         :format(o.checkpoint, tostring(rec.path), tostring(rec.strategy), p.path, o.strategy))
  end
  p.bookmark = rec.bookmark
  if rec.done then
    p.since = rec.bookmark
    if o.completed == "continue" and rec.tail then p.pos = ints(rec.tail) end
    return
  end
  p.since = rec.since
  p.pos = ints(rec.next)
  p.number = rec.pages
  p.consumed = rec.items or 0
end

local function save_checkpoint(p, page, nxt)
  if not p.cp then return end
  local strat = STRATEGY[p.o.strategy]
  local rec = {
    v = RECORD_VERSION, path = p.path, strategy = p.o.strategy,
    pages = page.number, items = p.consumed, since = p.since, bookmark = p.bookmark,
    done = nxt == nil, next = nxt,
  }
  if nxt == nil then rec.tail = strat.tail(p, page.position, page) end
  p.cp:set(rec)
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
  save_checkpoint(p, page, p.next)
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
  local ok, o = pcall(check_options, opts)
  if not ok then error(o, 2) end
  local p = { client = client, path = path, o = o, pos = {}, number = 0, consumed = 0,
              seen = {}, finished = false, fetched = 0 }
  if o.checkpoint then load_checkpoint(p) end
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
