-- paginate_bench.lua — what a checkpoint costs per page at the Lua level:
-- client:paginate over an in-memory fake client (no HTTP, so the iterator,
-- the JSON-encodable checkpoint record and the store commit are all that is
-- measured), 100-item pages, with and without `checkpoint`.
--
--   LIRA_STATE=/tmp/pb.db lua5.4 bench/paginate_bench.lua [pages]
--   LIRA_STATE_SYNC=full LIRA_STATE=/tmp/pb.db lua5.4 bench/paginate_bench.lua
--
-- (LUA_PATH / LUA_CPATH at the source and build trees, as for the specs.)
-- The store's raw commit cost is bench/store_bench.c; this adds the record
-- building, JSON encoding and the binding.
local lira = require "lira"
local paginate = require("lira.paginate").paginate

local PAGES = tonumber(arg[1]) or 2000
local SIZE = 100

local function page_body(n)
  local data = {}
  for i = 1, SIZE do data[i] = { id = (n - 1) * SIZE + i } end
  return { data = data, meta = { next = n < PAGES and tostring(n * SIZE) or lira.null,
                                 has_more = n < PAGES } }
end

-- Pre-built responses, so the fake client costs the same in both runs.
local bodies = {}
for n = 1, PAGES do bodies[n] = page_body(n) end
local Res = {}
Res.__index = Res
function Res:json() return self.body end
local fake = {
  get = function(_, _, opts)
    local after = tonumber(opts.query.starting_after or 0)
    return setmetatable({ status = 200, body = bodies[after // SIZE + 1], headers = {},
                          url = "http://fake/items" }, Res)
  end,
}

local function run(cp)
  local opts = { strategy = "cursor", items = "data", cursor = "meta.next",
                 has_more = "meta.has_more", cursor_param = "starting_after",
                 query = { limit = SIZE }, checkpoint = cp }
  local t0, n = lira.now(), 0
  for _ in paginate(fake, "/items", opts) do n = n + 1 end
  assert(n == PAGES * SIZE)
  return lira.now() - t0
end

if type(lira.checkpoint) ~= "function" then
  io.stderr:write("paginate_bench: lira.checkpoint is not available (no state store)\n")
  os.exit(1)
end
local name = "paginate-bench"
run(nil)                                      -- warm up
local plain = math.huge
for _ = 1, 3 do plain = math.min(plain, run(nil)) end
local with = math.huge
for _ = 1, 3 do
  lira.checkpoint(name):reset()
  with = math.min(with, run(name))
end
lira.checkpoint(name):reset()
print(("pages %d x %d items, sync %s"):format(PAGES, SIZE, os.getenv("LIRA_STATE_SYNC") or "normal"))
print(("  iterate without checkpoint: %.2f us/page (%.3f us/item)")
      :format(plain / PAGES * 1e6, plain / PAGES / SIZE * 1e6))
print(("  iterate with checkpoint:    %.2f us/page"):format(with / PAGES * 1e6))
print(("  checkpoint overhead:        %.2f us/page"):format((with - plain) / PAGES * 1e6))
