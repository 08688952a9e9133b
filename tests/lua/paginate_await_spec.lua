-- client:await against the sandbox's /ops (docs/sandbox.md): the status URL
-- from Location, Operation-Location or the body; waits from Retry-After or
-- the interval (measured on the server's clock); the deadline; a 303 to the
-- result; checkpoints (resume with nil or a start function, clear or keep).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

local lira = require "lira"
local sandbox = require "helpers.sandbox"
local standin = require "helpers.paginate_checkpoint"

local sb
local seq = 0
local state_file = os.tmpname()

local function client()
  seq = seq + 1
  return lira.client { name = "aw-" .. seq, base_url = sb.url, breaker = false,
                       retry = { attempts = 2, base = 0.01, cap = 0.02 } }
end

local function start(c, q)
  local res = assert(c:post("/ops", { query = q }))
  assert.equals(202, res.status)
  return res
end

local function polls_of(log)
  local out = {}
  for _, e in ipairs(log) do
    if e.method == "GET" then out[#out + 1] = e end
  end
  return out
end

setup(function()
  standin.install(state_file)
  sb = sandbox.start()
end)
teardown(function()
  if sb then sb:stop() end
  standin.remove(state_file)
end)
before_each(function() sb:reset() end)

describe("client:await", function()
  it("follows Location until the operation is done", function()
    local c = client()
    local res, err = c:await(start(c, { polls = 3 }), { interval = 0.01 })
    assert.is_nil(err)
    assert.equals(200, res.status)
    assert.same({ rows = 42 }, res:json().result)
    local polls = polls_of(sb:log())
    assert.equals(4, #polls)
    for _, e in ipairs(polls) do assert.matches("^/ops/op_%d+$", e.path) end
  end)

  it("reads Operation-Location, absolute URLs, and a JSON path", function()
    local c = client()
    local res = c:await(start(c, { polls = 1, header = "operation-location", absolute = 1 }),
                        { interval = 0.01 })
    assert.equals(200, res.status)
    res = c:await(start(c, { polls = 1, header = "location" }),
                  { interval = 0.01, url = "href" })
    assert.equals(200, res.status)
    local ok, err = c:await(start(c, { polls = 1, header = "location" }),
                            { interval = 0.01, header = "Operation-Location" })
    assert.is_nil(ok)
    assert.equals("protocol", err.kind)
    assert.matches("HTTP 202 without a status URL %(Operation%-Location%)", tostring(err))
  end)

  it("a 303 to the result is followed", function()
    local c = client()
    local res = c:await(start(c, { polls = 2, ["then"] = 303 }), { interval = 0.01 })
    assert.equals(200, res.status)
    assert.same({ rows = 42 }, res:json().result)
    local last = polls_of(sb:log())
    assert.matches("/result$", last[#last].path)
  end)

  it("waits Retry-After between polls, and the interval (doubling) without it", function()
    local c = client()
    c:await(start(c, { polls = 1, retry_after = 1 }), { interval = 0.01 })
    local log = sb:log()
    assert.is_true((log[2].mono_ns - log[1].mono_ns) / 1e9 >= 0.95)
    assert.is_true((log[3].mono_ns - log[2].mono_ns) / 1e9 >= 0.95)
    c:await(start(c, { polls = 3 }), { interval = 0.05, max_interval = 0.15 })
    log = sb:log()
    local gaps = {}
    for i = 2, #log do gaps[#gaps + 1] = (log[i].mono_ns - log[i - 1].mono_ns) / 1e9 end
    -- 0.05 before the first poll, then 0.1, 0.15 (capped), 0.15
    local want = { 0.05, 0.1, 0.15, 0.15 }
    for i, w in ipairs(want) do
      assert.is_true(gaps[i] >= w - 0.005 and gaps[i] < w + 0.5, ("gap %d: %.3f"):format(i, gaps[i]))
    end
  end)

  it("gives up at the deadline with kind deadline", function()
    local c = client()
    local t0 = lira.now()
    local res, err = c:await(start(c, { polls = 1000 }), { interval = 0.05, timeout = 0.3 })
    local took = lira.now() - t0
    assert.is_nil(res)
    assert.equals("deadline", err.kind)
    assert.matches("was not done before the deadline", tostring(err))
    assert.is_true(took >= 0.25 and took < 1, took)
    res, err = c:await(start(c, { polls = 1000 }),
                       { interval = 0.05, deadline = lira.now() + 0.1 })
    assert.equals("deadline", err.kind)
  end)

  it("a response that is already final is returned as it is", function()
    local c = client()
    local res = assert(c:get("/status/200"))
    assert.equals(res, c:await(res))
    local r404 = assert(c:get("/ops/op_999999"))
    assert.equals(404, c:await(r404).status)
    assert.equals(0, #polls_of(sb:log()) - 2)
  end)

  it("done decides what is final", function()
    local c = client()
    local res = c:await(start(c, { polls = 5 }), {
      interval = 0.01, done = function(r) return r:json().polls >= 2 end })
    assert.equals(202, res.status)
    assert.equals(2, res:json().polls)
  end)

  it("misuse raises", function()
    local c = client()
    assert.has_error(function() c:await(1) end,
                     "bad argument #1 to 'await' (response, function or nil expected, got number)")
    assert.matches("unknown option intervall",
                   select(2, pcall(c.await, c, nil, { intervall = 1 })))
    assert.matches("nothing to await", select(2, pcall(c.await, c, nil, {})))
  end)
end)

describe("client:await with a checkpoint", function()
  local function name()
    seq = seq + 1
    return "await-" .. seq .. "-" .. os.time()
  end

  it("stores the status URL while polling and clears it when done", function()
    local c = client()
    local cp = name()
    local seen
    local res = c:await(start(c, { polls = 2 }), {
      checkpoint = cp, interval = 0.01,
      done = function(r)
        seen = seen or lira.checkpoint(cp):get()
        return r.status ~= 202
      end })
    assert.equals(200, res.status)
    assert.matches("/ops/op_%d+$", seen.url)
    assert.is_nil(lira.checkpoint(cp):get())
  end)

  it("a start function is not called while an operation is pending", function()
    local c = client()
    local cp = name()
    -- a first await gives up at its deadline, leaving the operation pending
    local starts = 0
    local function begin()
      starts = starts + 1
      return c:post("/ops", { query = { polls = 6 } })
    end
    local res, err = c:await(begin, { checkpoint = cp, interval = 0.05, timeout = 0.12 })
    assert.is_nil(res)
    assert.equals("deadline", err.kind)
    res = assert(c:await(begin, { checkpoint = cp, interval = 0.01 }))
    assert.equals(200, res.status)
    assert.equals(1, starts)
    -- nil also resumes; with nothing pending it is misuse
    assert.matches("nothing to await %(no response given and no pending operation in " ..
                   "checkpoint", select(2, pcall(c.await, c, nil, { checkpoint = cp })))
    local posts = 0
    for _, e in ipairs(sb:log()) do if e.method == "POST" then posts = posts + 1 end end
    assert.equals(1, posts)
  end)

  it("clear = false keeps the finished operation: a rerun re-reads its result", function()
    local c = client()
    local cp = name()
    local r1 = c:await(start(c, { polls = 1 }), { checkpoint = cp, interval = 0.01,
                                                 clear = false })
    assert.is_true(lira.checkpoint(cp):get().done)
    sb:log()
    local r2 = c:await(nil, { checkpoint = cp, clear = false })
    assert.equals(r1.body:gsub('"polls":%d+', ""), r2.body:gsub('"polls":%d+', ""))
    assert.equals(1, #sb:log())
    lira.checkpoint(cp):reset()
  end)
end)
