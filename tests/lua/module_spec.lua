-- The module loads from the build tree and from an installed prefix, in a
-- plain Lua 5.4 host, with the layout Lua and LuaRocks expect.
describe("require 'lira'", function()
  it("loads the Lua side and the C side with the same version", function()
    local lira = require "lira"
    local core = require "lira.core"
    assert.is_string(lira.version)
    assert.matches("^%d+%.%d+%.%d+$", lira.version)
    assert.equals(core.version, lira.version)
    assert.equals("5.4", core.lua_version)
  end)

  it("sets no globals", function()
    local before = {}
    for k in pairs(_G) do before[k] = true end
    package.loaded["lira"] = nil
    require "lira"
    for k in pairs(_G) do
      assert.is_true(before[k], "global leaked: " .. tostring(k))
    end
  end)

  it("installs under share/lua/5.4 and lib/lua/5.4 and loads from there", function()
    local build = assert(os.getenv("LIRA_BUILD_DIR"), "LIRA_BUILD_DIR not set")
    local prefix = os.tmpname()
    os.remove(prefix)
    local function sh(cmd)
      local ok = os.execute(cmd)
      assert.is_true(ok, "command failed: " .. cmd)
    end
    sh(("cmake --install %q --prefix %q >/dev/null"):format(build, prefix))
    assert.truthy(io.open(prefix .. "/share/lua/5.4/lira/init.lua"))
    assert.truthy(io.open(prefix .. "/lib/lua/5.4/lira/core.so"))
    local p = io.popen(("cd / && LUA_PATH=%q LUA_CPATH=%q lua5.4 -e %q"):format(
      prefix .. "/share/lua/5.4/?.lua;" .. prefix .. "/share/lua/5.4/?/init.lua",
      prefix .. "/lib/lua/5.4/?.so",
      "io.write(require('lira').version)"))
    local out = p:read("a")
    local ok = p:close()
    sh(("rm -rf %q"):format(prefix))
    assert.is_true(ok)
    assert.equals(require("lira").version, out)
  end)
end)
