-- lira.paginate_options: the options of client:paginate (LUA-API.md §4,
-- docs/pagination.md): one schema that validation, defaults and the docs'
-- option table come from, and the checks across options (which strategy an
-- option belongs to, what needs a checkpoint). Internal to lira.paginate.
local schema = require "lira.schema"

local M = {}
local S = schema

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
function M.rows()
  return S.rows(OPTIONS)
end

-- A misuse of client:paginate (an option, or a checkpoint that does not fit).
local function fail(msg)
  error("paginate: " .. msg, 0)
end
M.fail = fail

-- The options validated, defaults filled, strategy "custom" when next is given.
function M.check(given)
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

return M
