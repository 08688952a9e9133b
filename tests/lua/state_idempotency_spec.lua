-- The idempotency journal across a real crash: a process POSTs with
-- lira.idempotency.key("payments", "order-42"), loses the response (the
-- sandbox records the effect, then answers 503), and is kill -9'd; a second
-- process reruns the same logical operation, sends the SAME key, and the
-- sandbox shows exactly one effect for it.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

local sandbox = require "helpers.sandbox"
local H = require "helpers.state"

local sb, dir

setup(function()
  sb = sandbox.start()
  dir = H.tmpdir()
end)
teardown(function()
  if sb then sb:stop() end
  H.rmdir(dir)
end)

local CHILD = here .. "fixtures/state_payment_child.lua"

-- Start the child; returns its pid and the pipe of its stdout (stderr too:
-- the log is off, the 503 would log a warning there).
local function spawn(state, mode)
  local cmd = ("echo $$; exec %s lua5.4 %s %s %s 2>&1"):format(
    H.env_prefix { LIRA_STATE = state, LIRA_LOG_LEVEL = "off" }, H.quote(CHILD), H.quote(sb.url), mode)
  local p = assert(io.popen(cmd))
  return tonumber(p:read("l")), p
end

describe("lira.idempotency.key across a kill -9", function()
  it("a rerun after a lost response sends the same key: one effect upstream", function()
    sb:reset()
    local state = dir .. "/crash.db"
    local pid, p = spawn(state, "crash")
    local lines = {}
    for l in p:lines() do
      lines[#lines + 1] = l
      if l == "sent" then break end
    end
    local out = table.concat(lines, "\n")
    assert.equals("sent", lines[#lines], out)
    assert.equals("status 503", lines[2], out)           -- the lost response
    local key = lines[1]:match("^key (%S+) created=true$")
    assert.is_string(key, out)
    assert.is_true(os.execute("kill -9 " .. pid))
    local _, how, sig = p:close()
    assert.equals("signal", how)
    assert.equals(9, sig)

    local _, p2 = spawn(state, "finish")
    local out2 = p2:read("a")
    assert.is_true(p2:close(), out2)
    assert.equals(("key %s created=false\nstatus 201\nreplayed true\n"):format(key), out2)

    -- what the server saw: two POSTs, both with that key, one effect
    local posts = {}
    for _, e in ipairs(sb:log()) do
      if e.method == "POST" and e.path == "/payments" then posts[#posts + 1] = e end
    end
    assert.equals(2, #posts)
    for _, e in ipairs(posts) do assert.equals(key, sandbox.header(e, "Idempotency-Key")) end
    local effects = sb:get("/payments/_effects"):json()
    assert.equals(1, effects.keys[key])
    assert.equals(1, effects.total)
    assert.equals(0, effects.unkeyed)

    -- a third run finds the key done (kept until it expires): still the same key
    local _, p3 = spawn(state, "finish")
    local out3 = p3:read("a")
    assert.is_true(p3:close(), out3)
    assert.truthy(out3:find(("key %s created=false\nstatus 201"):format(key), 1, true), out3)
    assert.equals(1, sb:get("/payments/_effects"):json().total)
  end)
end)
