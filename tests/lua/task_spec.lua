-- Tasks and time (LUA-API.md §2): spawn/join/cancel/status, sleep, now, run,
-- the wait protocol from the main thread and from coroutines lira did not
-- create, and lira.loop's pollable methods. Real sleeps stay <= 50 ms; the
-- simulated-time cases use the internal hook core._reset_engine(true).
local core = require "lira.core"

local function is_cancelled(err)
  return type(err) == "table" and err.kind == "cancelled"
end

-- Every test leaves no task behind, so that _reset_engine can run.
local function settle()
  assert.equals(0, core.loop:count(), "a test left unfinished tasks")
end

describe("spawn and join", function()
  after_each(settle)

  it("join returns true and every result of fn, nils included", function()
    local t = core.spawn(function(a, b) return a, nil, b, nil end, 1, 2)
    assert.equals("lira.Task", getmetatable(t).__name)
    local r = table.pack(t:join())
    assert.equals(5, r.n)
    assert.same({ true, 1, nil, 2, nil }, { r[1], r[2], r[3], r[4], r[5] })
    assert.equals("done", t:status())
    -- joining again gives the same results
    assert.same({ true, 1, nil, 2, nil }, { t:join() })
  end)

  it("a task starts only when the loop runs, in spawn order", function()
    local log = {}
    local a = core.spawn(function() log[#log + 1] = "a" end)
    local b = core.spawn(function() log[#log + 1] = "b" end)
    assert.same({}, log)
    assert.equals("ready", a:status())
    b:join()
    assert.same({ "a", "b" }, log)
    assert.equals("done", a:status())
  end)

  it("join from a task yields while the target runs", function()
    local log = {}
    local slow = core.spawn(function()
      core.sleep(0.01)
      log[#log + 1] = "slow"
      return "s"
    end)
    local joiner = core.spawn(function()
      log[#log + 1] = "joining"
      local ok, v = slow:join()
      log[#log + 1] = "joined " .. v
      return ok
    end)
    local other = core.spawn(function() log[#log + 1] = "other" end)
    assert.same({ true, true }, { joiner:join() })
    other:join()
    assert.same({ "joining", "other", "slow", "joined s" }, log)
  end)

  it("an error is kept for join with a traceback, and the task is 'failed'", function()
    local function inner() error("boom") end
    local t = core.spawn(function() inner() end)
    local ok, err, tb = t:join()
    assert.is_false(ok)
    assert.matches("task_spec.lua:%d+: boom$", err)
    assert.is_string(tb)
    assert.matches("boom\nstack traceback:", tb)
    assert.matches("in upvalue 'inner'", tb)
    assert.equals("failed", t:status())
  end)

  it("a raised table keeps its identity; the traceback still names it", function()
    local e = setmetatable({ code = 7 }, { __tostring = function() return "custom" end })
    local t = core.spawn(function() error(e) end)
    local ok, err, tb = t:join()
    assert.is_false(ok)
    assert.equals(e, err)
    assert.matches("error object is a table value", tb)
    local le = core.spawn(function()
      error(setmetatable({ kind = "invalid", message = "bad input" }, core.Error))
    end)
    local _, lerr, ltb = le:join()
    assert.equals("invalid", lerr.kind)
    assert.matches("^invalid: bad input", ltb)
  end)

  it("tasks may spawn tasks; join results cross tasks", function()
    local t = core.spawn(function()
      local kids = {}
      for i = 1, 10 do kids[i] = core.spawn(function(n) core.sleep(0) return n * n end, i) end
      local sum = 0
      for i = 1, 10 do
        local ok, v = kids[i]:join()
        assert(ok)
        sum = sum + v
      end
      return sum
    end)
    assert.same({ true, 385 }, { t:join() })
  end)

  it("status says running inside the task itself; tostring names the task", function()
    local me
    me = core.spawn(function() return me:status() end)
    assert.matches("^lira%.Task %d+ %(ready%)$", tostring(me))
    assert.same({ true, "running" }, { me:join() })
    assert.matches("^lira%.Task %d+ %(done%)$", tostring(me))
    assert.equals("kind", tostring(setmetatable({ kind = "kind" }, core.Error)))
  end)

  it("a task cannot join itself", function()
    local me
    me = core.spawn(function() return me:join() end)
    local ok, err = me:join()
    assert.is_false(ok)
    assert.matches("a task cannot join itself", err)
  end)

  it("a chain of 2000 joins and 20000 sleep(0)s do not grow the C stack", function()
    local prev = core.spawn(function() return 0 end)
    for _ = 1, 2000 do
      local p = prev
      prev = core.spawn(function() local _, v = p:join() return v + 1 end)
    end
    assert.same({ true, 2000 }, { prev:join() })
    local n = 0
    local t = core.spawn(function() for _ = 1, 20000 do core.sleep(0); n = n + 1 end end)
    t:join()
    assert.equals(20000, n)
  end)

  it("a finished, unreferenced task is collected; an unfinished one is pinned", function()
    local weak = setmetatable({}, { __mode = "v" })
    weak.done = core.spawn(function() return 1 end)
    weak.done:join()
    weak.sleeping = core.spawn(function() core.sleep(0.02) end)
    core.sleep(0)   -- let it start sleeping
    collectgarbage(); collectgarbage()
    assert.is_nil(weak.done)
    assert.is_not_nil(weak.sleeping)
    assert.equals("waiting", weak.sleeping:status())
    weak.sleeping:join()
  end)
end)

describe("sleep", function()
  after_each(settle)

  it("from the main thread drives the loop for the time asked", function()
    local t0 = core.now()
    assert.is_true(core.sleep(0.02))
    local dt = core.now() - t0
    assert.is_true(dt >= 0.02, "slept " .. dt)
    assert.is_true(dt < 0.5, "slept " .. dt)
  end)

  -- The engine reads its clock inside sleep, a moment after now() here (a GC
  -- step or a preemption may fall in between), so each deadline is known as
  -- an interval: at least start + d, at most the next task's start + d (the
  -- tasks start one after the other in spawn order). A task waking before
  -- another whose whole interval lies earlier is out of order. The
  -- simulated-time test below checks the exact order.
  it("1000 tasks sleeping random durations (<= 50 ms) wake in deadline order", function()
    local order, start, dur = {}, {}, {}
    core.run(function()
      for i = 1, 1000 do
        core.spawn(function()
          dur[i] = math.random() * 0.05
          start[i] = core.now()
          core.sleep(dur[i])
          assert(core.now() >= start[i] + dur[i])
          order[#order + 1] = i
        end)
      end
    end)
    assert.equals(1000, #order)
    local function lo(i) return start[i] + dur[i] end
    local function hi(i) return (start[i + 1] or core.now()) + dur[i] end
    for k = 2, #order do
      local a, b = order[k - 1], order[k]
      assert.is_true(lo(a) <= hi(b), ("task %d woke before %d"):format(a, b))
    end
  end)

  it("sleep(0) lets the other ready tasks run, round robin", function()
    local log = {}
    core.run(function()
      for _, name in ipairs { "A", "B", "C" } do
        core.spawn(function()
          for _ = 1, 3 do
            log[#log + 1] = name
            assert.is_true(core.sleep(0))
          end
        end)
      end
    end)
    assert.equals("ABCABCABC", table.concat(log))
  end)

  it("a bare coroutine.yield() in a task acts like sleep(0)", function()
    local log = {}
    core.run(function()
      core.spawn(function() log[#log + 1] = 1; coroutine.yield("ignored"); log[#log + 1] = 3 end)
      core.spawn(function() log[#log + 1] = 2 end)
    end)
    assert.same({ 1, 2, 3 }, log)
  end)

  it("sleep(0) from the main thread runs ready tasks once", function()
    local ran = false
    local t = core.spawn(function() ran = true end)
    assert.is_true(core.sleep(0))
    assert.is_true(ran)
    assert.equals("done", t:status())
  end)

  it("in a coroutine lira did not create, drives the loop instead of yielding", function()
    local gen = coroutine.wrap(function()
      for i = 1, 3 do
        assert.is_true(core.sleep(0.001))
        coroutine.yield(i)
      end
    end)
    assert.same({ 1, 2, 3 }, { gen(), gen(), gen() })

    local log = {}
    core.run(function()
      core.spawn(function() log[#log + 1] = "other task" end)
      local g = coroutine.wrap(function()
        core.sleep(0.005)
        log[#log + 1] = "wrap slept"
        coroutine.yield("from wrap")
      end)
      local v = g()
      log[#log + 1] = v
    end)
    assert.same({ "other task", "wrap slept", "from wrap" }, log)
  end)

  it("is instant in simulated time, waking in exact deadline order (internal hook)", function()
    core._reset_engine(true)
    local ok, err = pcall(function()
      local wall0 = os.clock()
      local order, deadline = {}, {}
      core.run(function()
        for i = 1, 1000 do
          core.spawn(function()
            local d = math.random(0, 600) * 10  -- up to 100 minutes, with ties
            deadline[i] = core.now() + d
            core.sleep(d)
            assert(core.now() == deadline[i])
            order[#order + 1] = i
          end)
        end
      end)
      assert.equals(1000, #order)
      for k = 2, #order do
        local a, b = order[k - 1], order[k]
        assert.is_true(deadline[a] < deadline[b] or (deadline[a] == deadline[b] and a < b),
          ("task %d woke before %d"):format(a, b))
      end
      assert.is_true(os.clock() - wall0 < 2)
    end)
    core._reset_engine(false)
    assert(ok, err)
  end)
end)

describe("cancel", function()
  after_each(settle)

  it("a sleeping task's sleep returns nil, err with kind 'cancelled'", function()
    local t = core.spawn(function()
      local ok, err = core.sleep(10)
      return ok, err
    end)
    core.sleep(0)
    assert.equals("waiting", t:status())
    local t0 = core.now()
    assert.is_true(t:cancel())
    local ok, r1, r2 = t:join()
    assert.is_true(core.now() - t0 < 1)
    assert.is_true(ok)
    assert.is_nil(r1)
    assert.is_true(is_cancelled(r2))
    assert.equals(core.Error, getmetatable(r2))
    assert.equals("cancelled: the task was cancelled", tostring(r2))
    assert.equals("cancelled", t:status())
  end)

  it("before the task started: it never runs, join reports cancelled", function()
    local ran = false
    local t = core.spawn(function() ran = true end)
    assert.is_true(t:cancel())
    assert.equals("cancelled", t:status())
    local ok, err = t:join()
    assert.is_false(ok)
    assert.is_true(is_cancelled(err))
    core.sleep(0)
    assert.is_false(ran)
  end)

  it("a running task that is not waiting: its next wait returns at once, and every later one", function()
    local me
    me = core.spawn(function()
      core.sleep(0)
      me:cancel()
      local t0 = core.now()
      local a, ea = core.sleep(10)
      local b, eb = core.sleep(0)
      local c, ec = core.sleep(5)
      return core.now() - t0, a, ea, b, eb, c, ec
    end)
    local ok, dt, a, ea, b, eb, c, ec = me:join()
    assert.is_true(ok)
    assert.is_true(dt < 1)
    assert.is_nil(a); assert.is_true(is_cancelled(ea))
    assert.is_nil(b); assert.is_true(is_cancelled(eb))
    assert.is_nil(c); assert.is_true(is_cancelled(ec))
  end)

  it("after the task finished: cancel returns false and changes nothing", function()
    local t = core.spawn(function() return 5 end)
    t:join()
    assert.is_false(t:cancel())
    assert.equals("done", t:status())
    assert.same({ true, 5 }, { t:join() })
  end)

  it("a task waiting in join: its join returns false, cancelled", function()
    local sleeper = core.spawn(function() core.sleep(0.02) return "late" end)
    local joiner = core.spawn(function() return sleeper:join() end)
    core.sleep(0)
    joiner:cancel()
    local ok, jok, jerr = joiner:join()
    assert.is_true(ok)
    assert.is_false(jok)
    assert.is_true(is_cancelled(jerr))
    assert.same({ true, "late" }, { sleeper:join() })
  end)

  it("a task waiting inside a coroutine it resumed is woken too", function()
    local t = core.spawn(function()
      local g = coroutine.wrap(function() return core.sleep(10) end)
      return g()
    end)
    local killer = core.spawn(function() core.sleep(0.005); t:cancel() end)
    local t0 = core.now()
    local ok, r, err = t:join()
    killer:join()
    assert.is_true(core.now() - t0 < 1)
    assert.is_true(ok)
    assert.is_nil(r)
    assert.is_true(is_cancelled(err))
  end)
end)

describe("run", function()
  after_each(settle)

  it("returns the results of fn and passes its arguments", function()
    local r = table.pack(core.run(function(a, b) return b, nil, a end, "x", "y"))
    assert.equals(3, r.n)
    assert.same({ "y", nil, "x" }, { r[1], r[2], r[3] })
  end)

  it("waits for every task fn spawned, transitively", function()
    local log = {}
    local v = core.run(function()
      core.spawn(function()
        core.sleep(0.01)
        core.spawn(function() core.sleep(0.01); log[#log + 1] = "grandchild" end)
        log[#log + 1] = "child"
      end)
      return "fn"
    end)
    assert.equals("fn", v)
    assert.same({ "child", "grandchild" }, log)
  end)

  it("re-raises an error in fn with its traceback", function()
    local ok, err = pcall(core.run, function() core.sleep(0) error("bad thing") end)
    assert.is_false(ok)
    assert.matches("task_spec.lua:%d+: bad thing\nstack traceback:", err)
  end)

  it("re-raises a table error as it was", function()
    local e = { why = "table" }
    local ok, err = pcall(core.run, function() error(e) end)
    assert.is_false(ok)
    assert.equals(e, err)
  end)

  it("cancels fn's tasks when fn fails, then re-raises", function()
    local seen
    local ok, err = pcall(core.run, function()
      core.spawn(function()
        local _, e = core.sleep(10)
        seen = e
      end)
      core.sleep(0)
      error("fn failed")
    end)
    assert.is_false(ok)
    assert.matches("fn failed", err)
    assert.is_true(is_cancelled(seen))
  end)

  it("keeps errors of spawned tasks for join instead of raising", function()
    local child
    local v = core.run(function()
      child = core.spawn(function() error("child failed") end)
      return "ok"
    end)
    assert.equals("ok", v)
    local ok, err = child:join()
    assert.is_false(ok)
    assert.matches("child failed", err)
  end)

  it("is rejected clearly inside a task", function()
    local ok, err = pcall(core.run, function()
      return core.run(function() end)
    end)
    assert.is_false(ok)
    assert.matches("lira.run: cannot be called inside a lira task", err)
  end)

  it("raises on deadlock instead of hanging", function()
    local a, b
    a = core.spawn(function() return b:join() end)
    b = core.spawn(function() return a:join() end)
    local ok, err = pcall(a.join, a)
    assert.is_false(ok)
    assert.matches("lira: deadlock: the main thread waits but nothing is pending", err)
    local rok, rerr = pcall(core.run, function() return a:join() end)
    assert.is_false(rok)
    assert.matches("lira: deadlock: the main thread waits for run%(%)'s tasks", rerr)
    a:cancel()
    b:cancel()
    core.sleep(0)
    core.sleep(0)
    assert.equals("cancelled", a:status())
    assert.equals("cancelled", b:status())
  end)
end)

describe("now", function()
  after_each(settle)

  it("is a monotonic float that moves with sleep", function()
    local prev = core.now()
    assert.equals("float", math.type(prev))
    for _ = 1, 1000 do
      local n = core.now()
      assert.is_true(n >= prev)
      prev = n
    end
    core.sleep(0.01)
    assert.is_true(core.now() - prev >= 0.01)
  end)
end)

describe("lira.loop", function()
  after_each(settle)

  it("follows the pollable convention", function()
    local loop = core.loop
    assert.equals("number", math.type(loop:pollfd()) and "number")
    assert.is_true(loop:pollfd() >= 0)
    assert.equals("r", loop:events())
    assert.is_nil(loop:timeout())
    assert.is_true(loop:empty())
    local t = core.spawn(function() core.sleep(0.03) end)
    assert.equals(0, loop:timeout())
    assert.equals(1, loop:count())
    assert.is_true(loop:step(0))
    assert.equals("waiting", t:status())
    local tm = loop:timeout()
    assert.is_true(tm > 0 and tm <= 0.03, tostring(tm))
    local t0 = core.now()
    loop:step(0)
    assert.is_true(core.now() - t0 < 0.02)   -- step(0) does not wait for the timer
    while not loop:empty() do loop:step() end
    assert.equals("done", t:status())
  end)
end)

describe("misuse raises errors that name the argument", function()
  after_each(settle)

  local function fails(pattern, f, ...)
    local ok, err = pcall(f, ...)
    assert.is_false(ok)
    assert.matches(pattern, err)
  end

  it("spawn, run, sleep", function()
    fails("bad argument #1 to '[%w.]*spawn' %(function expected, got no value%)", core.spawn)
    fails("bad argument #1 to '[%w.]*spawn' %(function expected, got nil%)", core.spawn, nil)
    fails("bad argument #1 to '[%w.]*spawn' %(function expected, got number%)", core.spawn, 1)
    fails("bad argument #1 to '[%w.]*run' %(function expected, got table%)", core.run, {})
    fails("bad argument #1 to '[%w.]*sleep' %(number expected, got no value%)", core.sleep)
    fails("bad argument #1 to '[%w.]*sleep' %(number expected, got string%)", core.sleep, "1")
    fails("bad argument #1 to '[%w.]*sleep' %(seconds must be >= 0, got %-1", core.sleep, -1)
    fails("bad argument #1 to '[%w.]*sleep' %(seconds must be >= 0, got %-?nan", core.sleep, 0 / 0)
  end)

  it("Task methods on something that is not a task", function()
    local T = core.Task
    fails("bad argument #1 to 'join' %(lira.Task expected, got nil%)", function() return T.join(nil) end)
    fails("bad argument #1 to 'cancel' %(lira.Task expected, got table%)", function() return T.cancel({}) end)
    fails("bad argument #1 to 'status' %(lira.Task expected, got number%)", function() return T.status(1) end)
  end)

  it("loop methods", function()
    local loop = core.loop
    fails("bad argument #1 to 'step' %(timeout must be >= 0", function() return loop:step(-1) end)
    fails("bad argument #1 to 'step' %(number or nil expected, got string%)", function() return loop:step("x") end)
    fails("bad argument #1 to 'pollfd' %(lira.Loop expected, got no value%)", function() return loop.pollfd() end)
    fails("loop:step%(%) is for the host's event loop", core.run, function() loop:step(0) end)
  end)
end)
