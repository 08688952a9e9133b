-- The examples are run, not just read: each examples/*.lua runs in a plain
-- lua5.4 against a real `lira sandbox`, and what it prints is checked.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path
local sandbox = require "helpers.sandbox"

local function run_example(file, env)
  local vars = {}
  for k, v in pairs(env) do vars[#vars + 1] = ("%s=%q"):format(k, v) end
  local p = io.popen(("%s lua5.4 %q 2>&1"):format(table.concat(vars, " "), file))
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

describe("examples", function()
  local sb
  setup(function() sb = sandbox.start() end)
  teardown(function() if sb then sb:stop() end end)

  it("plain/resilient_calls.lua shows every layer working", function()
    local ok, out = run_example("examples/plain/resilient_calls.lua", { SHOP_URL = sb.url })
    assert.is_true(ok, out)
    assert.matches("flaky endpoint: HTTP 200 after 3 attempts", out, 1, true)
    assert.matches("rate%-limited once, then: HTTP 200 after 2 attempts", out)
    assert.matches("payment: HTTP 201 after 3 attempts", out, 1, true)
    assert.matches("slow endpoint: timeout: .*%(kind timeout%)", out)
    assert.matches("breaker is open: breaker_open", out, 1, true)
    assert.matches("20 concurrent 100 ms calls: 20 succeeded", out, 1, true)
    -- The server saw one payment effect, not three.
    local effects = sb.client:request("GET", "/payments/_effects"):json()
    assert.equals(1, effects.total)
  end)

  it("the integrations in examples/ pass lira check --strict", function()
    local bin = assert(os.getenv("LIRA_BIN"))
    local p = io.popen(("%q check --strict examples/ 2>&1; echo exit=$?"):format(bin))
    local out = p:read("a")
    p:close()
    assert.matches("exit=0", out, 1, true)
    assert.matches("2 file(s), 0 error(s), 0 warning(s)", out, 1, true)
  end)
end)
