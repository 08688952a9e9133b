-- lira.config(name[, default]): environment settings with errors that name
-- the variable. The environment is replaced through config.getenv.
local lira = require "lira"
local config = require "lira.config"

describe("lira.config", function()
  local env = {}
  local real = config.getenv
  before_each(function()
    env = { SHOP_URL = "http://shop.test", EMPTY = "" }
    config.getenv = function(n) return env[n] end
  end)
  after_each(function() config.getenv = real end)

  it("returns a set variable", function()
    assert.equals("http://shop.test", lira.config("SHOP_URL"))
    assert.equals("http://shop.test", lira.config("SHOP_URL", "ignored"))
  end)

  it("raises, naming the variable, when it is missing and there is no default", function()
    local ok, err = pcall(lira.config, "MISSING_URL")
    assert.is_false(ok)
    assert.matches("lira%.config: environment variable MISSING_URL is not set$", err)
  end)

  it("treats an empty variable as missing, and says it is empty", function()
    local ok, err = pcall(lira.config, "EMPTY")
    assert.is_false(ok)
    assert.matches("lira%.config: environment variable EMPTY is empty$", err)
    assert.equals("fallback", lira.config("EMPTY", "fallback"))
  end)

  it("returns the default, whatever it is, even an explicit nil", function()
    assert.equals("d", lira.config("MISSING", "d"))
    assert.equals(8080, lira.config("MISSING", 8080))
    assert.is_false(lira.config("MISSING", false))
    assert.is_nil(lira.config("MISSING", nil))
    assert.equals(1, select("#", lira.config("MISSING", nil)))
  end)

  it("raises at the caller's line", function()
    local ok, err = pcall(function()
      local v = lira.config("MISSING_X")      -- not a tail call: that frame is gone
      return v
    end)
    assert.is_false(ok)
    assert.matches("config_spec%.lua:%d+: lira%.config:", err)
  end)

  it("rejects a bad name", function()
    assert.has_error(function() lira.config(nil) end,
      "bad argument #1 to 'lira.config' (variable name expected, got nil)")
    assert.has_error(function() lira.config("") end,
      "bad argument #1 to 'lira.config' (variable name expected, got \"\")")
    assert.has_error(function() lira.config("A=B") end,
      "bad argument #1 to 'lira.config' (variable name expected, got \"A=B\")")
  end)

  it("reads the real environment by default", function()
    config.getenv = real
    assert.equals(os.getenv("PATH"), lira.config("PATH"))
    assert.equals("x", lira.config("LIRA_SURELY_UNSET_VARIABLE_42", "x"))
  end)
end)
