-- The state examples of docs/lua-api.md ("<!-- example: state -->") run, each
-- in its own lua5.4 against a sandbox, with LIRA_STATE at a temp file (so
-- they never write .lira/ into the source tree), twice: the second run
-- finds what the first one stored.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

local sandbox = require "helpers.sandbox"
local H = require "helpers.state"

describe("docs/lua-api.md state examples", function()
  local sb, dir
  setup(function()
    sb = sandbox.start()
    dir = H.tmpdir()
  end)
  teardown(function()
    if sb then sb:stop() end
    H.rmdir(dir)
  end)

  local doc = H.read(here .. "../../docs/lua-api.md")
  local n = 0
  for code in doc:gmatch("<!%-%- example: state %-%->\n```lua\n(.-)\n```") do
    n = n + 1
    local i = n
    it(("example %d runs, and runs again on the same file"):format(i), function()
      local env = { LIRA_STATE = ("%s/ex%d.db"):format(dir, i), SANDBOX_URL = sb.url }
      for _ = 1, 2 do
        local out, ok = H.run_lua(code, env)
        assert.is_true(ok, out)
      end
    end)
  end
  it("has examples", function() assert.is_true(n >= 1) end)
end)
