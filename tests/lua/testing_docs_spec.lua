-- docs/testing.md's examples ("<!-- example: testing -->") are busted specs:
-- each runs in its own busted process, as a reader would run it.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

describe("docs/testing.md examples", function()
  local doc = read(here .. "../../docs/testing.md")
  local n = 0
  for code in doc:gmatch("<!%-%- example: testing %-%->\n```lua\n(.-)\n```") do
    n = n + 1
    local i = n
    it(("example %d passes under busted"):format(i), function()
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -p '" .. dir .. "'"))
      local file = ("%s/example%d_spec.lua"):format(dir, i)
      local f = assert(io.open(file, "w"))
      f:write(code, "\n")
      f:close()
      local p = assert(io.popen(("LIRA_LOG_LEVEL=off busted --lua=lua5.4 -o plainTerminal '%s' 2>&1")
                                :format(file)))
      local out = p:read("a")
      local ok = p:close()
      os.execute("rm -rf '" .. dir .. "'")
      assert(ok, out)
      assert.matches("%d+ success%a* / 0 failures / 0 errors", out)
    end)
  end
  it("has examples", function() assert.is_true(n >= 4) end)
end)
