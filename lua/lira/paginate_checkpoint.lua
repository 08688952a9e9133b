-- lira.paginate_checkpoint: client:paginate's `checkpoint = name` (see the
-- top of lira.paginate): where a run starts from the stored record, and the
-- record written once the loop body has consumed a page. Internal to
-- lira.paginate.
local options = require "lira.paginate_options"
local strategy = require "lira.paginate_strategy"

local M = {}
local fail = options.fail
local STRATEGY = strategy.by_name

-- Checkpoint records carry this; a record of another version is refused.
local RECORD_VERSION = 1

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
function M.load(p)
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

-- Write the record once the loop body has consumed `page`: `nxt` is where
-- the next run starts (nil: `page` was the last; the record keeps its tail).
function M.save(p, page, nxt)
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

return M
