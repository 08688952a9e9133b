-- lira.log (§9, docs/observability.md): JSON lines from Lua, levels,
-- redaction by field name, the correlation context, argument errors.
local lira = require "lira"
local json = lira.json

local path = os.tmpname()

local function lines()
  local f = assert(io.open(path, "rb"))
  local out = {}
  for l in f:lines() do out[#out + 1] = l end
  f:close()
  return out
end

local function last()
  local all = lines()
  return all[#all], json.decode(all[#all])
end

local function fresh(opts)
  os.remove(path)
  opts = opts or {}
  opts.file = path
  assert(lira.log.configure(opts))
  lira.log.context { correlation_id = nil }
end

describe("lira.log", function()
  after_each(function() os.remove(path) end)

  it("writes one JSON line with ts, level, msg and sorted fields", function()
    fresh { level = "info" }
    assert.is_true(lira.log.info("synced", { orders = 3, ok = true, shop = "eu", ratio = 0.5 }))
    local raw, t = last()
    assert.matches('^{"ts":"%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ","level":"info",'
                   .. '"msg":"synced","ok":true,"orders":3,"ratio":0.5,"shop":"eu"}$', raw)
    assert.equal("synced", t.msg)
    assert.equal(3, t.orders)
  end)

  it("filters by level and can change it", function()
    fresh { level = "warn" }
    assert.equal("warn", lira.log.level())
    assert.is_false(lira.log.info("hidden"))
    assert.is_false(lira.log.debug("hidden"))
    assert.is_true(lira.log.warn("shown"))
    assert.is_true(lira.log.error("shown too"))
    assert.equal(2, #lines())
    assert.equal("debug", lira.log.level("debug"))
    assert.is_true(lira.log.debug("now shown"))
    assert.equal(3, #lines())
  end)

  it("redacts secret fields and URLs, with a configurable deny list", function()
    fresh { deny = { "X-Shop-Key" } }
    lira.log.info("auth", {
      authorization = "Bearer sk_live_123", password = "hunter2", ["x-shop-key"] = "k-999",
      url = "https://u:pw@h.example/a?api_key=AK-555&page=2", next_url = "/b?token=T-777",
      user = "ann",
    })
    local raw, t = last()
    for _, secret in ipairs { "sk_live_123", "hunter2", "k-999", "AK-555", "T-777", "pw@" } do
      assert.is_nil(raw:find(secret, 1, true), secret .. " leaked")
    end
    assert.equal("REDACTED", t.authorization)
    assert.equal("REDACTED", t["x-shop-key"])
    assert.equal("https://REDACTED@h.example/a?api_key=REDACTED&page=2", t.url)
    assert.equal("ann", t.user)
  end)

  it("carries the correlation id of the current context", function()
    fresh()
    local ctx = lira.log.context { correlation_id = "run-42" }
    assert.equal("run-42", ctx.correlation_id)
    lira.log.info("step")
    local _, t = last()
    assert.equal("run-42", t.correlation_id)
    assert.is_nil(lira.log.context { correlation_id = nil }.correlation_id)
    lira.log.info("step")
    _, t = last()
    assert.is_nil(t.correlation_id)
  end)

  it("rate-limits repeated identical warnings", function()
    fresh()
    local written = 0
    for _ = 1, 100 do
      if lira.log.warn("upstream down", { shop = "eu" }) then written = written + 1 end
    end
    assert.equal(5, written)
    assert.equal(5, #lines())
  end)

  it("writes the text format for humans", function()
    fresh { format = "text" }
    lira.log.warn("two words", { note = "a b", n = 1 })
    local raw = lines()[1]
    assert.matches('^%d%d%d%d%-%d%d%-%d%dT[%d:.]+Z WARN  two words n=1 note="a b"$', raw)
  end)

  it("raises on misuse, naming the argument", function()
    fresh()
    local function err(f, ...)
      local ok, e = pcall(f, ...)
      assert.is_false(ok)
      return tostring(e)
    end
    assert.matches("bad argument #1 to 'info' %(message must be a string%)", err(lira.log.info, 1))
    assert.matches("bad argument #2 to 'warn' %(fields must be a table%)",
                   err(lira.log.warn, "m", "x"))
    assert.matches("fields.nested must be a string, number or boolean",
                   err(lira.log.info, "m", { nested = { a = 1 } }))
    assert.matches("fields.level is reserved", err(lira.log.info, "m", { level = "x" }))
    assert.matches("field names must be strings", err(lira.log.info, "m", { "positional" }))
    assert.matches("unknown key 'correlation'", err(lira.log.context, { correlation = "x" }))
    assert.matches("unknown key 'levle'", err(lira.log.configure, { levle = "debug" }))
    assert.matches("debug, info, warn, error or off", err(lira.log.level, "loud"))
    local ok, msg = lira.log.configure { file = "/nonexistent-dir/x.log" }
    assert.is_nil(ok)
    assert.matches("cannot open the log /nonexistent%-dir/x.log", msg)
  end)
end)
