-- The one-pass JSON decoder (src/lua/lua_json_decode.c) against the checked
-- path (lexical pass + cJSON + walk, core._json_decode_checked): on every
-- text both must accept the same, decode to the same values (types, integer
-- vs float, the array marker) and fail with the same message.
local core = require "lira.core"
local decode, checked = core.json_decode, core._json_decode_checked

local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."

local function same(a, b, path)
  assert.equals(type(a), type(b), path)
  if type(a) ~= "table" then
    if type(a) == "number" then
      assert.equals(math.type(a), math.type(b), path)
      if a ~= a then assert.is_true(b ~= b, path) return end
      -- -0.0 and 0.0 compare equal: tell them apart by the sign of 1/x
      if a == 0 and math.type(a) == "float" then assert.equals(1 / a, 1 / b, path) end
    end
    assert.equals(a, b, path)
    return
  end
  assert.equals(getmetatable(a), getmetatable(b), path .. " (array marker)")
  for k, v in pairs(a) do same(v, b[k], path .. "." .. tostring(k)) end
  for k in pairs(b) do assert.is_not_nil(a[k], path .. "." .. tostring(k)) end
end

local function agree(text, label)
  label = label or ("%q"):format(text)
  local ok1, v1 = pcall(decode, text)
  local ok2, v2 = pcall(checked, text)
  assert.equals(ok2, ok1, label .. ": accepted by one decoder only (" .. tostring(v1) .. " / " ..
                tostring(v2) .. ")")
  if ok1 then
    same(v1, v2, label)
  else
    assert.equals(v2, v1, label)
  end
  return ok1
end

describe("the one-pass JSON decoder", function()
  it("agrees with the checked path on hand-made edge cases", function()
    local cases = {
      "", " ", "1", "-0", "-0.0", "0.0e0", "01", "-", "1.", ".5", "1e", "1e+", "1E-2", "+1",
      "9223372036854775807", "9223372036854775808", "-9223372036854775808",
      "-9223372036854775809", "123456789012345678901234567890", "1e400", "-1e400", "1e-400",
      "true", "false", "null", "tru", "nul", "truex", "[true false]", "[1 2]", "[1,]", "[,1]",
      "{}", "[]", "{ }", "[ ]", '{"a":1,}', '{"a" 1}', '{a:1}', '{"a":1 "b":2}', "[1]]",
      "[[]", '{"a":{"b":{"c":[1,{"d":null}]}}}', '"\\u0000"', '"a\\u0000b"', '"\\ud834\\udd1e"',
      '"\\ud800"', '"\\udc00"', '"\\ud800\\u0041"', '"\\u00e9\\u20AC"', '"\\x"', '"\\u12G4"',
      '"tab\there"', '"\\/\\b\\f\\n\\r\\t\\"\\\\"', '"caf\u{e9} \xff raw"', '"unterminated',
      '"\\', '"\\u12', "\xEF\xBB\xBF{}", "\xEF\xBB\xBF1", "\xEF\xBB\xBF12", "\xEF\xBB",
      " \t\r\n[1] \t\r\n", "\f1", "1\f", "123\0", "[1]\0", "[\0]", '"a\0b"', "[1.5-3]", "[1-2]",
      "[-]", "[--1]", "[1e5e5]", '{"a":1,"a":2}', '{"":0}', '{"k\\u0000ey":"x"}',
      '[1,"2",3.0,[4],{"5":5}]', "[1.0,2.50,-3e-2,4E+1]",
    }
    for _, c in ipairs(cases) do agree(c) end
  end)

  it("agrees on numbers at cJSON's 63-character limit", function()
    for _, n in ipairs { 62, 63, 64, 80 } do
      agree(string.rep("1", n), n .. " digits")
      agree("[" .. string.rep("1", n) .. "]", "[" .. n .. " digits]")
      agree("0." .. string.rep("5", n - 2), n .. "-char fraction")
    end
  end)

  it("agrees on strings with a special byte at every offset of an 8-byte word", function()
    -- the string scan goes a word at a time: a quote, an escape, a control
    -- byte, UTF-8 (valid or not) or the text's end at each offset
    local specials = { '\\"', "\\n", "\\u00e9", "\n", "\1", "\xc3\xa9", "\xff", "\xe2\x82\xac", "\x7f" }
    for len = 0, 20 do
      for at = 0, len do
        for _, sp in ipairs(specials) do
          local body = ("a"):rep(at) .. sp .. ("b"):rep(len - at)
          agree('"' .. body .. '"')
          agree('{"k' .. body .. '":["' .. body .. '"]}')
        end
        agree('"' .. ("c"):rep(at))   -- unterminated
      end
    end
  end)

  it("agrees on containers larger than its batch, repeated keys across batches", function()
    local items, pairs_ = {}, {}
    for i = 1, 100 do
      items[i] = tostring(i)
      pairs_[i] = ('"k%d":%d'):format(i % 40, i)
    end
    assert.is_true(agree("[" .. table.concat(items, ",") .. "]", "100 items"))
    assert.is_true(agree("{" .. table.concat(pairs_, ",") .. "}", "100 pairs, 40 keys"))
    local v = decode("{" .. table.concat(pairs_, ",") .. "}")
    assert.equals(80, v.k0)   -- the last of k0 = 40, 80
    assert.equals(100, #decode("[" .. table.concat(items, ",") .. "]"))
  end)

  it("keeps object keys right through its key cache: repeats, evictions, long keys", function()
    -- 3 000 distinct keys over many bodies, twice over: every slot of the
    -- cache is filled, replaced and hit; keys around its 24-byte limit too
    local function key(i)
      if i % 7 == 0 then return ("x"):rep(20 + i % 8) .. i end   -- 21 to 32 bytes
      return "k" .. i
    end
    for _ = 1, 2 do
      for first = 1, 3000, 50 do
        local parts = {}
        for i = first, first + 49 do parts[#parts + 1] = ('"%s":%d'):format(key(i), i) end
        local text = "{" .. table.concat(parts, ",") .. "}"
        local v = decode(text)
        local n = 0
        for k, x in pairs(v) do
          n = n + 1
          assert.equals(key(x), k)
        end
        assert.equals(50, n)
        agree(text, "keys " .. first)
      end
    end
    local rows = {}
    for i = 1, 200 do rows[i] = ('{"id":%d,"sku":"s%d","qty":%d}'):format(i, i, i % 3) end
    local list = decode("[" .. table.concat(rows, ",") .. "]")
    assert.equals(200, #list)
    assert.same({ id = 200, sku = "s200", qty = 2 }, list[200])
  end)

  it("agrees at the depth limit", function()
    agree(string.rep("[", 200) .. string.rep("]", 200), "depth 200")
    agree(string.rep("[", 201) .. string.rep("]", 201), "depth 201")
    agree(string.rep('{"a":', 200) .. "1" .. string.rep("}", 200), "object depth 200")
    agree(string.rep('{"a":', 201) .. "1" .. string.rep("}", 201), "object depth 201")
    agree(string.rep("[", 5000), "5000 open brackets")
  end)

  it("agrees on every file of JSONTestSuite's test_parsing", function()
    local dir = os.getenv("LIRA_TESTDATA")
    if dir == nil or dir == "" then dir = here .. "/../../../shared/testdata" end
    dir = dir .. "/jsontestsuite/test_parsing"
    local p = assert(io.popen('ls -1 "' .. dir .. '"'))
    local n = 0
    for name in p:lines() do
      local f = assert(io.open(dir .. "/" .. name, "rb"))
      agree(f:read("a"), name)
      f:close()
      n = n + 1
    end
    p:close()
    assert.is_true(n > 300)
  end)

  it("agrees on random mutations of a typical API answer", function()
    local base = '{"id":"ord_8f3a2c1e","object":"order","status":"paid","amount":4250,' ..
                 '"currency":"eur","customer":{"id":"cus_42","email":"ada@example.com"},' ..
                 '"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1.5e1}],"note":"a\\nb",' ..
                 '"u":"\\u00e9","n":null,"t":true,"f":false,"neg":-0.25}'
    assert.is_true(agree(base, "base"))
    local alphabet = '{}[]",:.-+eE0159tfnul\\ \n\t\0\xff'
    local r = 4242
    local function rand(m) r = (r * 1103515245 + 12345) % 2147483648; return r % m end
    for i = 1, 3000 do
      local s = base
      for _ = 1, 1 + rand(3) do
        local at = 1 + rand(#s)
        local what = rand(3)
        local ch = alphabet:sub(1 + rand(#alphabet), 1 + (rand(#alphabet)))
        ch = ch:sub(1, 1)
        if what == 0 then s = s:sub(1, at - 1) .. s:sub(at + 1)
        elseif what == 1 then s = s:sub(1, at - 1) .. ch .. s:sub(at)
        else s = s:sub(1, at - 1) .. ch .. s:sub(at + 1) end
      end
      agree(s, "mutation " .. i .. " " .. ("%q"):format(s))
    end
  end)
end)
