-- client:paginate (LUA-API.md §4, docs/pagination.md) against a real
-- `lira sandbox`: every strategy visits every id 1..T exactly once (T not a
-- multiple of the page size, and T = 0), stops are explicit, loops and the
-- page cap raise, and a checkpoint resumes after the last consumed page —
-- checked on what the sandbox's /_log says was requested.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

local lira = require "lira"
local sandbox = require "helpers.sandbox"
local standin = require "helpers.paginate_checkpoint"

local sb, scen, scen_file
local seq = 0

-- A private state file for this process.
local state_file = os.tmpname()

local function client(url)
  seq = seq + 1
  return lira.client { name = "pg-" .. seq, base_url = url or sb.url,
                       retry = { attempts = 2, base = 0.01, cap = 0.02 }, breaker = false }
end

-- The options of each sandbox style (docs/sandbox.md, /paginate).
local STYLES = {
  cursor = function(total, size)
    return "/paginate/cursor", { strategy = "cursor", query = { total = total, limit = size },
                                 items = "data", cursor = "meta.next",
                                 has_more = "meta.has_more", cursor_param = "starting_after" }
  end,
  link = function(total, size)
    return "/paginate/link", { strategy = "link", query = { total = total, per_page = size } }
  end,
  offset = function(total, size)
    return "/paginate/offset", { strategy = "offset", query = { total = total, limit = size },
                                 items = "items" }
  end,
  offset_total = function(total, size)
    return "/paginate/offset", { strategy = "offset", query = { total = total, limit = size },
                                 items = "items", total = "total" }
  end,
  page = function(total, size)
    return "/paginate/page", { strategy = "page", query = { total = total, per_page = size },
                               items = "items" }
  end,
}

local function collect(c, path, opts)
  local ids, pages, last = {}, {}, 0
  for item, page in c:paginate(path, opts) do
    ids[#ids + 1] = item.id
    if page.number ~= last then
      pages[#pages + 1] = page
      last = page.number
    end
  end
  return ids, pages
end

local function assert_each_once(ids, total)
  assert.equals(total, #ids)
  local seen = {}
  for _, id in ipairs(ids) do
    assert.is_nil(seen[id], "id " .. id .. " delivered twice")
    seen[id] = true
  end
  for i = 1, total do assert.is_true(seen[i], "id " .. i .. " missing") end
end

local SCENARIO = [[
{"routes": [
  {"path": "/loop/cursor", "responses": [
    {"body": {"data": [{"id": 1}], "next": "c1"}},
    {"body": {"data": [{"id": 2}], "next": "c2"}},
    {"body": {"data": [{"id": 3}], "next": "c1"}}]},
  {"path": "/rel/a/list", "responses": [
    {"headers": {"Link": "<../b/list?p=2>; rel=\"next\""}, "body": [{"id": 1}]},
    {"headers": {"Link": "</rel/c/list?p=3>; rel=\"next\""}, "body": [{"id": 2}]},
    {"headers": {"Link": "<?p=4>; rel=\"next\""}, "body": [{"id": 3}]},
    {"body": [{"id": 4}]}]},
  {"path": "/rel/b/list", "responses": [
    {"headers": {"Link": "</rel/c/list?p=3>; rel=\"next\""}, "body": [{"id": 2}]}]},
  {"path": "/rel/c/list", "then": "cycle", "responses": [
    {"headers": {"Link": "<?p=4>; rel=\"next\""}, "body": [{"id": 3}]},
    {"body": [{"id": 4}]}]},
  {"path": "/cursor/nulls", "responses": [
    {"body": {"data": [], "meta": {"next": "x1", "has_more": true}}},
    {"body": {"data": [{"id": 1}], "meta": {"next": "x2", "has_more": true}}},
    {"body": {"data": [], "meta": {"next": null, "has_more": false}}}]},
  {"path": "/cursor/liar", "responses": [
    {"body": {"data": [{"id": 1}], "meta": {"next": null, "has_more": true}}}]}
]}
]]

setup(function()
  standin.install(state_file)
  scen_file = os.tmpname()
  local f = assert(io.open(scen_file, "w"))
  f:write(SCENARIO)
  f:close()
  sb = sandbox.start { "--seed", "7" }
  scen = sandbox.start { "--scenario", scen_file }
end)

teardown(function()
  if sb then sb:stop() end
  if scen then scen:stop() end
  os.remove(scen_file)
  standin.remove(state_file)
end)

before_each(function()
  sb:reset()
  scen:reset()
end)

describe("every strategy visits every id exactly once", function()
  for _, style in ipairs { "cursor", "link", "offset", "offset_total", "page" } do
    for _, case in ipairs { { 23, 5 }, { 20, 5 }, { 0, 5 }, { 1, 7 }, { 1001, 100 } } do
      local total, size = case[1], case[2]
      it(("%s: total %d, page size %d"):format(style, total, size), function()
        local c = client()
        local path, opts = STYLES[style](total, size)
        local ids, pages = collect(c, path, opts)
        assert_each_once(ids, total)
        -- pages are numbered 1, 2, ... and each has its response
        for i, page in ipairs(pages) do
          assert.equals(i, page.number)
          assert.equals(200, page.response.status)
        end
        -- the requests the server saw: no page fetched twice, and no
        -- request after the last page except where the strategy needs
        -- one (a full last page: page and offset-without-total ask once
        -- more and get an empty page)
        local log = sb:log()
        local queries = {}
        for _, e in ipairs(log) do
          assert.is_nil(queries[e.query], "fetched twice: " .. e.query)
          queries[e.query] = true
        end
        local full = math.ceil(total / size)
        local extra = (total % size == 0 and (style == "page" or style == "offset")) and 1 or 0
        if total == 0 then full, extra = 1, 0 end
        assert.equals(full + extra, #log)
      end)
    end
  end
end)

describe("stop conditions", function()
  it("an empty page is not a stop when the cursor says there is more", function()
    local c = client(scen.url)
    local ids, pages = collect(c, "/cursor/nulls", { strategy = "cursor", items = "data",
                                                   cursor = "meta.next",
                                                   has_more = "meta.has_more" })
    assert.same({ 1 }, ids)
    assert.equals(3, #scen:log())
    assert.equals(1, #pages)          -- pages 1 and 3 were empty: only page 2 had items
    assert.equals(2, pages[1].number)
  end)

  it("has_more true with a null cursor raises instead of stopping", function()
    local c = client(scen.url)
    local ok, err = pcall(collect, c, "/cursor/liar", { strategy = "cursor", items = "data",
                                                       cursor = "meta.next",
                                                       has_more = "meta.has_more" })
    assert.is_false(ok)
    assert.matches("has_more is true but the cursor at \"meta.next\" is empty", tostring(err))
  end)

  it("max_pages raises an error naming the cap when a next page remains", function()
    local c = client()
    local path, opts = STYLES.cursor(100, 10)
    opts.max_pages = 3
    local n = 0
    local ok, err = pcall(function()
      for _ in c:paginate(path, opts) do n = n + 1 end
    end)
    assert.is_false(ok)
    assert.equals("pagination", err.kind)
    assert.matches("max_pages %(3%) reached", tostring(err))
    assert.equals(30, n)               -- the three pages were delivered first
    assert.equals(3, #sb:log())        -- and no fourth was requested
  end)

  it("max_pages equal to the real page count is not an error", function()
    local c = client()
    local path, opts = STYLES.link(30, 10)
    opts.max_pages = 3
    local ids = collect(c, path, opts)
    assert_each_once(ids, 30)
  end)
end)

describe("loop detection", function()
  it("a cursor the API already returned raises, naming it", function()
    local c = client(scen.url)
    local ok, err = pcall(collect, c, "/loop/cursor", { strategy = "cursor", items = "data",
                                                       cursor = "next" })
    assert.is_false(ok)
    assert.matches('page 4 would fetch cursor "c1" again %(already fetched as page 2%)',
                   tostring(err))
    assert.equals(3, #scen:log())
  end)

  it("a custom next that repeats a request raises", function()
    local c = client()
    local n = 0
    local ok, err = pcall(function()
      for _ in c:paginate("/paginate/cursor", {
        query = { total = 50, limit = 10 }, items = "data",
        next = function(_, page)
          n = n + 1
          return { query = { starting_after = page.number >= 2 and 10 or page.number * 10 } }
        end,
      }) do end
    end)
    assert.is_false(ok)
    assert.matches("page 3 would fetch request {query={starting_after=10}} again " ..
                   "%(already fetched as page 2%)", tostring(err))
    assert.equals(2, #sb:log())
  end)

  it("custom next: a keyset strategy built on the last item", function()
    local c = client()
    local ids = collect(c, "/paginate/cursor", {
      query = { total = 37, limit = 10 }, items = "data",
      next = function(_, page)
        local last = page.items[#page.items]
        if #page.items < 10 then return nil end
        return { query = { starting_after = last.id } }
      end,
    })
    assert_each_once(ids, 37)
  end)
end)

describe("link resolution", function()
  it("follows relative next links (../, absolute path, query only)", function()
    local c = client(scen.url)
    local ids = collect(c, "/rel/a/list", { strategy = "link" })
    assert.same({ 1, 2, 3, 4 }, ids)
    local got = {}
    for _, e in ipairs(scen:log()) do got[#got + 1] = e.path .. "?" .. e.query end
    assert.same({ "/rel/a/list?", "/rel/b/list?p=2", "/rel/c/list?p=3", "/rel/c/list?p=4" }, got)
  end)

  it("resolves references as RFC 3986 §5.4 says", function()
    local resolve = require("lira.paginate").resolve
    local base = "http://a/b/c/d;p?q"
    local cases = {
      ["g"] = "http://a/b/c/g", ["./g"] = "http://a/b/c/g", ["g/"] = "http://a/b/c/g/",
      ["/g"] = "http://a/g", ["//g"] = "http://g", ["?y"] = "http://a/b/c/d;p?y",
      ["g?y"] = "http://a/b/c/g?y", ["#s"] = "http://a/b/c/d;p?q#s", ["."] = "http://a/b/c/",
      ["./"] = "http://a/b/c/", [".."] = "http://a/b/", ["../g"] = "http://a/b/g",
      ["../.."] = "http://a/", ["../../g"] = "http://a/g", ["../../../g"] = "http://a/g",
      ["/./g"] = "http://a/g", ["g;x=1/../y"] = "http://a/b/c/y",
      ["https://x.test/p?q=1"] = "https://x.test/p?q=1",
    }
    for ref, want in pairs(cases) do assert.equals(want, resolve(base, ref), ref) end
  end)
end)

describe("failures", function()
  it("a failed page raises naming the page number and the status", function()
    local c = client()
    local ok, err = pcall(collect, c, "/status/503", { strategy = "link" })
    assert.is_false(ok)
    assert.equals("status", err.kind)
    assert.equals(1, err.page)
    assert.equals(503, err.status)
    assert.matches("page 1 failed: HTTP 503", tostring(err))
  end)

  it("a transport error raises naming the page and keeps the cause", function()
    local c = lira.client { name = "pg-dead", base_url = "http://127.0.0.1:1", retry = false,
                            breaker = false }
    local ok, err = pcall(collect, c, "/x", { strategy = "link" })
    assert.is_false(ok)
    assert.equals("connect", err.kind)
    assert.matches("page 1 failed: connect", tostring(err))
    assert.equals("connect", err.cause.kind)
  end)

  it("a body that is not an array (and no items path) raises", function()
    local c = client()
    local ok, err = pcall(collect, c, "/paginate/cursor", { strategy = "link" })
    assert.is_false(ok)
    assert.matches("page 1: the body is not a JSON array %(found table%); give option items",
                   tostring(err))
  end)
end)

describe("options", function()
  local c
  before_each(function() c = client() end)
  local function err_of(opts)
    local ok, e = pcall(c.paginate, c, "/x", opts)
    assert.is_false(ok)
    return e
  end

  it("rejects unknown and misplaced options by name", function()
    assert.matches("unknown option curosr", err_of { strategy = "cursor", curosr = "a" })
    assert.matches("option cursor applies to strategy cursor, not link",
                   err_of { strategy = "link", cursor = "a" })
    assert.matches("option strategy must be one of", err_of { strategy = "pages" })
    assert.matches("strategy is required", err_of {})
    assert.matches("either strategy or next", err_of { strategy = "link", next = print })
    assert.matches("strategy cursor needs option cursor", err_of { strategy = "cursor" })
    assert.matches("option max_pages must be", err_of { strategy = "link", max_pages = 0 })
    assert.matches("need a checkpoint", err_of { strategy = "link", completed = "continue" })
    assert.matches("needs the page size as query.limit",
                   err_of { strategy = "offset", items = "items" })
  end)

  it("raises at the caller's line", function()
    local ok, e = pcall(function()
      local it = c:paginate("/x", { bogus = 1 })
      return it
    end)
    assert.is_false(ok)
    assert.matches("paginate_spec.lua:%d+: paginate: unknown option bogus", e)
  end)
end)

describe("inside a lira task", function()
  it("page requests yield to the loop: other tasks run while a page is fetched", function()
    local c = client()
    local ran_during_first_page, pages = nil, 0
    local other_ran = false
    lira.run(function()
      local pager = lira.spawn(function()
        local path, opts = STYLES.cursor(30, 10)
        for _, page in c:paginate(path, opts) do
          if ran_during_first_page == nil then ran_during_first_page = other_ran end
          if page.number > pages then pages = page.number end
        end
      end)
      -- Queued after the pager: it can only run before the pager's first
      -- item if the first page request yielded to the loop.
      local other = lira.spawn(function() other_ran = true end)
      assert(pager:join())
      assert(other:join())
    end)
    assert.is_true(ran_during_first_page)
    assert.equals(3, pages)
  end)
end)

describe("checkpoints", function()
  local function cp_name()
    seq = seq + 1
    return "spec-cp-" .. seq
  end

  it("a break mid-page resumes at that page; consumed pages are not fetched again", function()
    local c = client()
    local name = cp_name()
    local path, opts = STYLES.cursor(95, 10)
    opts.checkpoint = name
    local first = {}
    for item in c:paginate(path, opts) do
      first[#first + 1] = item.id
      if item.id == 34 then break end         -- page 4 half consumed
    end
    local log1 = sb:log()
    assert.equals(4, #log1)
    local rec = lira.checkpoint(name):get()
    assert.equals(3, rec.pages)
    assert.equals(30, rec.items)
    assert.is_false(rec.done)
    local second = collect(c, path, opts)
    assert.equals(31, second[1])              -- page 4 again, from its first item
    local log2 = sb:log()
    assert.matches("starting_after=30", log2[1].query)
    assert.equals(7, #log2)                   -- pages 4..10
    local all = {}
    for _, id in ipairs(first) do if id <= 30 then all[#all + 1] = id end end
    for _, id in ipairs(second) do all[#all + 1] = id end
    assert_each_once(all, 95)
    assert.is_true(lira.checkpoint(name):get().done)
  end)

  it("a completed checkpoint restarts from the first page by default", function()
    local c = client()
    local path, opts = STYLES.page(25, 10)
    opts.checkpoint = cp_name()
    assert_each_once(collect(c, path, opts), 25)
    assert_each_once(collect(c, path, opts), 25)
  end)

  it("completed = continue: the next run goes on from the end", function()
    local c = client()
    local path, opts = STYLES.offset(25, 10)
    opts.checkpoint, opts.completed = cp_name(), "continue"
    assert_each_once(collect(c, path, opts), 25)
    sb:log()
    -- more items appeared upstream: only the new ones are delivered
    opts.query.total = 32
    local ids = collect(c, path, opts)
    assert.same({ 26, 27, 28, 29, 30, 31, 32 }, ids)
    assert.matches("offset=25", sb:log()[1].query)
  end)

  it("a bookmark is kept after consumption and starts the next run (since-style)", function()
    local c = client()
    local name = cp_name()
    local since_seen = {}
    local function opts(total)
      local path, o = STYLES.cursor(total, 10)
      o.checkpoint = name
      o.query = function(since)
        since_seen[#since_seen + 1] = since or "none"
        -- the sandbox has no updated_at: starting_after plays `since`
        return { total = total, limit = 10, starting_after = since }
      end
      o.bookmark = function(item, best) return math.max(best or 0, item.id) end
      return path, o
    end
    local path, o = opts(25)
    assert_each_once(collect(c, path, o), 25)
    assert.equals(25, lira.checkpoint(name):get().bookmark)
    path, o = opts(31)
    assert.same({ 26, 27, 28, 29, 30, 31 }, (collect(c, path, o)))
    assert.same({ "none", 25 }, since_seen)
  end)

  it("a checkpoint of another iteration is refused", function()
    local c = client()
    local name = cp_name()
    local path, opts = STYLES.page(5, 10)
    opts.checkpoint = name
    collect(c, path, opts)
    local p2, o2 = STYLES.cursor(5, 10)
    o2.checkpoint = name
    local ok, err = pcall(c.paginate, c, p2, o2)
    assert.is_false(ok)
    assert.matches("belongs to another iteration", err)
  end)
end)

describe("docs/pagination.md", function()
  it("has the option tables the code validates against", function()
    local f = assert(io.open(here .. "../../docs/pagination.md"))
    local doc = f:read("a")
    f:close()
    for _, m in ipairs { "lira.paginate", "lira.await" } do
      for _, r in ipairs(require(m).option_rows()) do
        local line = ("| `%s` | %s | %s | %s |"):format(r.path, r.default, r.what, r.doc or "")
        assert.is_truthy(doc:find(line, 1, true), "docs/pagination.md lacks: " .. line)
      end
    end
  end)
end)
