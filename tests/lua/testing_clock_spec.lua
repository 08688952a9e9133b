-- lira.testing's virtual clock: t.reset{ clock = true }, clock:advance and
-- clock:now, with many tasks sleeping at once.
local lira = require "lira"
local t = require "lira.testing"

describe("lira.testing clock", function()
  local clock
  before_each(function() clock = t.reset{ clock = true } end)

  it("starts a fresh virtual engine at 0", function()
    assert.are.equal(0, clock:now())
    assert.are.equal(0, lira.now())
  end)

  it("advances in order through concurrent tasks, firing only what falls due", function()
    local log = {}
    local tasks = {}
    for i, d in ipairs { 3, 1, 2, 1, 0.5 } do
      tasks[i] = lira.spawn(function()
        lira.sleep(d)
        log[#log + 1] = { i, lira.now() }
        lira.sleep(d)
        log[#log + 1] = { i, lira.now() }
      end)
    end
    assert.are.equal(1.5, clock:advance(1.5))
    -- 0.5: task 5 twice (0.5, 1.0); task 2 and 4 at 1.0 (spawn order)
    assert.are.same({ { 5, 0.5 }, { 2, 1 }, { 4, 1 }, { 5, 1 } }, log)
    clock:advance(0.5)
    assert.are.same({ 3, 2 }, log[5])
    assert.are.equal(7, #log)          -- 3@2, 2@2, 4@2
    clock:advance(10)
    assert.are.same({ { 1, 3 }, { 3, 4 }, { 1, 6 } }, { log[8], log[9], log[10] })
    assert.are.equal(12, clock:now())
    for _, task in ipairs(tasks) do assert.is_true((task:join())) end
  end)

  it("writes the log lines of the calls it ran before it returns", function()
    local path = os.tmpname()
    assert(lira.log.configure { level = "info", file = path, flush_ms = 10000 })
    local api = lira.client { name = "clocklog", base_url = "https://clocklog.test",
                              retry = false }
    t.mock(api, { ["GET /x"] = { status = 200, json = { ok = true } } })
    lira.spawn(function() lira.sleep(1) assert(api:get("/x")) end)
    clock:advance(2)
    local f = assert(io.open(path))
    local text = f:read("a")
    f:close()
    os.remove(path)
    lira.log.configure { level = "warn" }
    assert.matches('"msg":"call","client":"clocklog"', text, 1, true)
  end)

  it("advance(0) runs what is due now and nothing later", function()
    local ran = {}
    lira.spawn(function() ran[#ran + 1] = "now" end)
    lira.spawn(function() lira.sleep(0.001) ran[#ran + 1] = "later" end)
    clock:advance(0)
    assert.are.same({ "now" }, ran)
    clock:advance(0.001)
    assert.are.same({ "now", "later" }, ran)
  end)

  it("keeps sums exact over many small steps", function()
    local fired = 0
    local task = lira.spawn(function()
      for _ = 1, 1000 do lira.sleep(0.25) fired = fired + 1 end
    end)
    for _ = 1, 100 do clock:advance(1) end
    assert.are.equal(400, fired)
    assert.are.equal(100, clock:now())
    clock:advance(150)
    assert.are.equal(1000, fired)
    assert.is_true((task:join()))
  end)

  it("a blocking call outside tasks jumps straight over sleeps", function()
    local t0 = os.clock()
    lira.sleep(3600)
    assert.are.equal(3600, clock:now())
    assert.is_true(os.clock() - t0 < 0.5)
  end)

  it("refuses misuse with messages that say what to do", function()
    assert.has_error(function() clock:advance(-1) end,
                     "lira.testing: clock:advance(seconds) needs a number >= 0")
    local ok, err = lira.run(function() return pcall(clock.advance, clock, 1) end)
    assert.is_false(ok)
    assert.matches("not from a lira task", err)
    t.reset()   -- a real clock again
    assert.has_error(function() t._C.advance(1) end)
  end)

  it("t.reset refuses while a task is unfinished, and names the fix", function()
    local task = lira.spawn(function() lira.sleep(5) end)
    local ok, err = pcall(t.reset, { clock = true })
    assert.is_false(ok)
    assert.matches("join them", err)
    clock:advance(5)
    assert.is_true((task:join()))
  end)
end)
