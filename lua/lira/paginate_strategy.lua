-- lira.paginate_strategy: how client:paginate finds its pages, one entry per
-- strategy (cursor, link, offset, page, and custom: the caller's next
-- function), and the small helpers the iterator in lira.paginate shares
-- with them (raise, get_path, copy). Internal to lira.paginate.
local core = require "lira.core"
local paginate_url = require "lira.paginate_url"

local M = {}

-- ------------------------------------------------------------- errors ---

-- Iteration failures are raised as lira errors (kind, message, page, ...),
-- so `pcall` callers can tell a failed page request from a loop.
local function raise(kind, message, fields)
  local e = require("lira.client").error(kind, message, fields)
  error(e, 0)
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
    local url = paginate_url.resolve(base, uri)
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

M.by_name = STRATEGY
M.raise, M.get_path, M.copy = raise, get_path, copy

return M
