-- 50 retry/backoff scenarios under the virtual clock: the real retry code,
-- scripted failures, every delay checked in simulated seconds, and the
-- whole suite timed in real seconds (issue 9: well under a second).
local lira = require "lira"
local t = require "lira.testing"

local FAILS = {
  { step = { status = 503 } },
  { step = { status = 429, headers = { ["Retry-After"] = "7" } }, retry_after = 7 },
  { step = { error = "timeout" } },
  { step = { error = "connect" } },
  { step = { status = 500 } },
  { step = { status = 503, headers = { ["Retry-After"] = "1" } }, retry_after = 1 },
  { step = { error = "transport" } },
}
local BASES = { 0.1, 0.5, 1, 2, 4 }
local CAPS = { 0.5, 3, 10, 30 }
local LATENCY = { 0, 0.05, 0.25 }

-- Scenario n: its retry options, its script and the request times it must produce.
local function scenario(n)
  local attempts = 2 + n % 5
  local base, cap = BASES[n % #BASES + 1], CAPS[(n // 3) % #CAPS + 1]
  if cap < base then cap = base end
  local latency = LATENCY[(n // 2) % #LATENCY + 1]
  local succeed = n % 4 ~= 0                    -- every 4th one exhausts its attempts
  local steps, at, now = {}, {}, 0
  local fails = succeed and attempts - 1 or attempts
  for i = 1, attempts do
    at[i] = now
    if i <= fails then
      local f = FAILS[(n + i) % #FAILS + 1]
      local s = { delay = latency }
      for k, v in pairs(f.step) do s[k] = v end
      steps[i] = s
      local backoff = math.min(cap, base * 2 ^ (i - 1))
      now = now + latency + math.max(backoff, f.retry_after or 0)
    else
      steps[i] = { status = 200, delay = latency, json = { n = n } }
    end
  end
  return { attempts = attempts, base = base, cap = cap, steps = steps, at = at,
           succeed = succeed, name = ("scenario %d: %d attempts, base %g, cap %g, latency %g%s")
             :format(n, attempts, base, cap, latency, succeed and "" or ", all fail") }
end

local function near(a, b) return math.abs(a - b) < 1e-6 end

describe("lira.testing: 50 retry/backoff scenarios under the virtual clock", function()
  local started
  setup(function() started = os.clock() end)
  teardown(function()
    local cpu = os.clock() - started
    io.stderr:write(("\nlira.testing retry suite: 50 scenarios + 1 capped case in %.1f ms CPU\n")
      :format(cpu * 1000))
    assert(cpu < 1, "the suite took more than a second")
  end)

  before_each(function() t.reset{ clock = true } end)

  for n = 1, 50 do
    local sc = scenario(n)
    it(sc.name, function()
      local api = lira.client { name = "svc", base_url = "https://svc.test",
        retry = { attempts = sc.attempts, base = sc.base, cap = sc.cap, jitter = "none",
                  budget = false },
        timeout = { deadline = false, read = 5 }, breaker = false }
      local m = t.mock(api, { ["PUT /things/{id}"] = sc.steps }, { strict = true })
      local res, err = api:put("/things/" .. n, { json = { n = n } })
      if sc.succeed then
        assert.is_nil(err)
        assert.are.equal(n, res:json().n)
      else
        -- the last failure is what the call returns: an error, or the 429/5xx response
        assert.is_true(err ~= nil or res.status >= 429)
      end
      assert.are.equal(sc.attempts, #m.calls)
      for i, c in ipairs(m.calls) do
        assert(near(c.at, sc.at[i]), ("attempt %d at %.6f, expected %.6f"):format(i, c.at, sc.at[i]))
        assert.are.equal(n, c.json.n)
      end
    end)
  end

  it("5 retries with backoff capped at 30 s: 4, 8, 16, 30, 30", function()
    local api = lira.client { name = "capped", base_url = "https://svc.test",
      retry = { attempts = 6, base = 4, cap = 30, jitter = "none", budget = false },
      timeout = { deadline = false }, breaker = false }
    local m = t.mock(api, { ["GET /slowly"] = { { status = 503, ["repeat"] = 5 }, { status = 200 } } })
    assert.are.equal(200, assert(api:get("/slowly")).status)
    local gaps = {}
    for i = 2, #m.calls do gaps[#gaps + 1] = m.calls[i].at - m.calls[i - 1].at end
    assert.are.same({ 4, 8, 16, 30, 30 }, gaps)
    assert.are.equal(88, lira.now())
  end)
end)
