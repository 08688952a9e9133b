-- JSON <-> Lua (src/lua/lua_json*.c): the mapping of docs/json.md, the error
-- messages (with byte offsets when decoding, with the path when encoding),
-- the depth limit both ways, and the JSONTestSuite parsing corpus.
local core = require "lira.core"
local decode, encode = core.json_decode, core.json_encode
local null, array = core.null, core.array

local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."

-- n_ files of JSONTestSuite that lira still accepts. It must equal the list
-- in docs/json.md (between the accepted-n-files markers) and the set the
-- decoder really accepts, in both directions.
local KNOWN_ACCEPTED_N = {}

local function err_of(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return e
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Deep equality that also compares the array marker.
local function same(a, b, path)
  path = path or "$"
  assert.equals(type(a), type(b), path)
  if type(a) ~= "table" then
    if type(a) == "number" then assert.equals(math.type(a), math.type(b), path) end
    assert.equals(a, b, path)
    return
  end
  assert.equals(getmetatable(a), getmetatable(b), path .. " (array marker)")
  for k, v in pairs(a) do same(v, b[k], path .. "." .. tostring(k)) end
  for k in pairs(b) do assert.is_not_nil(a[k], path .. "." .. tostring(k)) end
end

describe("json decode", function()
  it("maps objects, arrays, literals and null", function()
    local v = decode('{"a": [1, 2.5, "x", true, false, null], "b": {}, "c": []}')
    assert.equals(1, v.a[1])
    assert.equals(2.5, v.a[2])
    assert.equals("x", v.a[3])
    assert.is_true(v.a[4])
    assert.is_false(v.a[5])
    assert.equals(null, v.a[6])
    assert.equals(6, #v.a)
    assert.same({}, v.b)
    assert.is_nil(getmetatable(v.b))
    assert.equals(getmetatable(array()), getmetatable(v.a))
    assert.equals(getmetatable(array()), getmetatable(v.c))
  end)

  it("decodes top-level scalars", function()
    assert.equals(3, decode("3"))
    assert.equals("s", decode('"s"'))
    assert.equals(null, decode(" null "))
    assert.is_true(decode("true"))
  end)

  it("keeps integers integers and exact over the whole int64 range", function()
    assert.equals("integer", math.type(decode("42")))
    assert.equals(math.maxinteger, decode("9223372036854775807"))
    assert.equals(math.mininteger, decode("-9223372036854775808"))
    assert.equals("integer", math.type(decode("-9223372036854775808")))
    assert.equals(9007199254740993, decode("9007199254740993"))
    assert.equals("integer", math.type(decode("-0")))
  end)

  it("turns fractions, exponents and too-big integers into floats", function()
    assert.equals("float", math.type(decode("1.0")))
    assert.equals("float", math.type(decode("1e2")))
    assert.equals(100.0, decode("1E+2"))
    assert.equals(0.015, decode("1.5e-2"))
    local big = decode("9223372036854775808")
    assert.equals("float", math.type(big))
    assert.equals(2^63, big)
    assert.equals(-2^63 * 10, decode("-92233720368547758080"))
    assert.equals(1/0, decode("1e400"))
  end)

  it("decodes escapes to UTF-8 and keeps \\u0000 inside strings and keys", function()
    assert.equals('"\\/\b\f\n\r\t', decode('"\\"\\\\\\/\\b\\f\\n\\r\\t"'))
    assert.equals("\u{e9}", decode('"\\u00e9"'))
    assert.equals("\u{20ac}", decode('"\\u20AC"'))
    assert.equals("\u{1d11e}", decode('"\\ud834\\udd1e"'))
    assert.equals("a\0b", decode('"a\\u0000b"'))
    local v = decode('{"k\\u0000ey": "x\\n\\u0000"}')
    assert.equals("x\n\0", v["k\0ey"])
    assert.equals("caf\u{e9} \xff raw", decode('"caf\u{e9} \xff raw"'))
  end)

  it("lets the last of repeated keys win", function()
    assert.equals(2, decode('{"a": 1, "a": 2}').a)
  end)

  it("accepts a UTF-8 BOM and JSON whitespace around the value", function()
    assert.same({}, decode("\xEF\xBB\xBF{}"))
    assert.equals(1, decode(" \t\r\n1 \t\r\n"))
  end)

  it("reports malformed input with the byte offset", function()
    assert.equals("json decode error at byte 0: unexpected end of input", err_of(decode, ""))
    assert.equals("json decode error at byte 3: unexpected end of input", err_of(decode, " \n "))
    assert.equals("json decode error at byte 3: syntax error near '2' (the input ends inside " ..
                  "1 unclosed array or object)", err_of(decode, "[1,2"))
    assert.matches("unclosed array or objects%)$", err_of(decode, '{"a":[1'))
    assert.equals("json decode error at byte 4: trailing characters after the JSON value",
                  err_of(decode, "[1] x"))
    assert.equals("json decode error at byte 6: leading zero in number",
                  err_of(decode, '{"a": 01}'))
    assert.equals("json decode error at byte 3: digit expected after '.' in number",
                  err_of(decode, "[2.]"))
    assert.equals("json decode error at byte 3: unescaped control character 0x0a in string",
                  err_of(decode, '["a\nb"]'))
    assert.equals("json decode error at byte 2: \\u needs four hex digits",
                  err_of(decode, '["\\u12G4"]'))
    assert.equals("json decode error at byte 2: invalid escape in string",
                  err_of(decode, '["\\x"]'))
    assert.equals("json decode error at byte 1: unterminated string", err_of(decode, '"'))
    assert.equals("json decode error at byte 0: unexpected byte 0x0c", err_of(decode, "\f1"))
    assert.equals("json decode error at byte 3: unexpected byte 0x00", err_of(decode, "123\0"))
    assert.equals("json decode error at byte 1: syntax error near 'x'", err_of(decode, "[x]"))
    assert.equals("json decode error at byte 3: syntax error near ']'", err_of(decode, "[1,]"))
    assert.equals("json decode error at byte 0: syntax error near byte 0xef",
                  err_of(decode, "\xEF\xBB"))
    assert.equals("json decode error at byte 2: high surrogate in \\u escape not followed " ..
                  "by a low one", err_of(decode, '["\\ud800"]'))
    assert.equals("json decode error at byte 2: high surrogate in \\u escape not followed " ..
                  "by a low one", err_of(decode, '["\\ud800\\u0041"]'))
    assert.equals("json decode error at byte 1: lone low surrogate in \\u escape",
                  err_of(decode, '"\\udc00"'))
  end)

  it("validates its argument", function()
    assert.matches("bad argument #1 to '.-' %(string expected, got no value%)", err_of(decode))
    assert.matches("bad argument #1", err_of(decode, {}))
  end)

  it("limits nesting to 200 levels with an error, not a crash", function()
    local ok = string.rep("[", 200) .. string.rep("]", 200)
    local v = decode(ok)
    for _ = 1, 199 do v = v[1] end
    same(array(), v)
    assert.equals("json decode error at byte 200: nesting deeper than 200",
                  err_of(decode, string.rep("[", 201) .. string.rep("]", 201)))
    assert.equals("json decode error at byte 204: nesting deeper than 200",
                  err_of(decode, '{"a":' .. string.rep("[", 300)))
    assert.matches("nesting deeper than 200", err_of(decode, string.rep("[", 100000)))
    assert.matches("nesting deeper than 200", err_of(decode, string.rep('{"":', 100000)))
  end)
end)

describe("json encode", function()
  it("encodes scalars, null and nil", function()
    assert.equals("null", encode(null))
    assert.equals("null", encode(nil))
    assert.equals("true", encode(true))
    assert.equals("false", encode(false))
    assert.equals('"x"', encode("x"))
  end)

  it("writes integers exactly", function()
    assert.equals("0", encode(0))
    assert.equals("-17", encode(-17))
    assert.equals("9223372036854775807", encode(math.maxinteger))
    assert.equals("-9223372036854775808", encode(math.mininteger))
    assert.equals("9007199254740993", encode(9007199254740993))
  end)

  it("writes floats shortest-round-trip, integral ones with .0", function()
    assert.equals("0.1", encode(0.1))
    assert.equals("0.30000000000000004", encode(0.1 + 0.2))
    assert.equals("1.0", encode(1.0))
    assert.equals("-0.0", encode(-0.0))
    assert.equals("1e+300", encode(1e300))
    assert.equals("1.5e-07", encode(1.5e-7))
    assert.equals("2.5", encode(2.5))
    assert.equals("9.223372036854776e+18", encode(2.0^63))
  end)

  it("round-trips floats bit for bit", function()
    local r = 12345
    local function rand() r = (r * 1103515245 + 12345) % 2147483648; return r end
    local values = { math.pi, -math.pi, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                     1/3, 123456789.125, 1e21, 1e-7 }
    for _ = 1, 2000 do
      values[#values + 1] = (rand() - 2^30) * 2.0^(rand() % 200 - 100) / (rand() + 1)
    end
    for _, x in ipairs(values) do
      local y = decode(encode(x))
      assert.equals("float", math.type(y))
      assert.equals(x, y, encode(x))
    end
  end)

  it("escapes quotes, backslashes and control characters and passes other bytes", function()
    assert.equals('"a\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\\u0000/"',
                  encode('a"b\\c\n\r\t\b\f\1\31\0/'))
    assert.equals('"caf\u{e9} \xff\x7f"', encode("caf\u{e9} \xff\x7f"))
    local all = {}
    for i = 0, 255 do all[#all + 1] = string.char(i) end
    all = table.concat(all)
    assert.equals(all, decode(encode(all)))
  end)

  it("chooses between {} and [] by the keys and the lira.array marker", function()
    assert.equals("{}", encode({}))
    assert.equals("[]", encode(array()))
    assert.equals("[]", encode(array({})))
    assert.equals("[1,2,3]", encode({1, 2, 3}))
    assert.equals("[1,2]", encode(array({1, 2})))
    assert.equals('{"a":1}', encode({a = 1}))
    assert.equals('{"1":true}', encode({["1"] = true}))
    assert.equals('[[],{},[null]]', encode({array(), {}, {null}}))
    local obj = encode({b = {c = "d"}, a = 1})
    assert.is_true(obj == '{"a":1,"b":{"c":"d"}}' or obj == '{"b":{"c":"d"},"a":1}')
  end)

  it("round-trips decoded values, [] and {} included", function()
    local text = '{"list":[],"obj":{},"n":[1,-2,3.5,1e+300,null],' ..
                 '"s":"\\u0000\\n\u{e9}","deep":[[[{"x":[true,false]}]]]}'
    local v = decode(text)
    same(v, decode(encode(v)))
    assert.equals("[]", encode(v.list))
    assert.equals("{}", encode(v.obj))
    assert.equals('[1,-2,3.5,1e+300,null]', encode(v.n))
  end)

  it("names the path of what it cannot encode", function()
    local f = function() end
    assert.equals("json: cannot encode a function at .items[3].cb",
                  err_of(encode, {items = {{}, {}, {cb = f}}}))
    assert.equals("json: cannot encode a function at the top level", err_of(encode, f))
    assert.equals("json: cannot encode a userdata at .f", err_of(encode, {f = io.stdout}))
    assert.equals("json: cannot encode a thread at [2]",
                  err_of(encode, {1, coroutine.create(f)}))
    assert.equals("json: cannot encode NaN at .x", err_of(encode, {x = 0/0}))
    assert.equals('json: cannot encode inf at ["a b"][1]', err_of(encode, {["a b"] = {1/0}}))
    assert.equals('json: cannot encode -inf at .ok["\\x0a"]',
                  err_of(encode, {ok = {["\n"] = -1/0}}))
  end)

  it("refuses cycles, bad keys, sparse and mixed tables", function()
    local t = {a = {}}
    t.a.back = t
    assert.equals("json: cannot encode a cycle at .a.back", err_of(encode, t))
    local l = {}
    l[1] = l
    assert.equals("json: cannot encode a cycle at [1]", err_of(encode, l))
    assert.equals("json: cannot encode a table with a boolean key (keys must be strings, " ..
                  "or 1..n for an array) at .k", err_of(encode, {k = {[true] = 1}}))
    assert.matches("with a float key", err_of(encode, {[1.5] = 1}))
    assert.matches("with a table key", err_of(encode, {[{}] = 1}))
    assert.equals("json: cannot encode a table mixing string and integer keys at the top level",
                  err_of(encode, {1, a = 2}))
    assert.equals("json: cannot encode a sparse array (keys must be 1..n without holes) at .s",
                  err_of(encode, {s = {1, nil, 3}}))
    assert.matches("sparse array", err_of(encode, {[2] = "x"}))
    assert.equals("json: array index below 1 (arrays need keys 1..n) at the top level",
                  err_of(encode, {[0] = "x", "y"}))
    assert.equals("json: lira.array table has string keys at the top level",
                  err_of(encode, array({a = 1})))
    -- the same shared table twice is not a cycle
    local shared = {1}
    assert.equals("[[1],[1]]", encode({shared, shared}))
  end)

  it("limits nesting to 200 levels", function()
    local v = 1
    for _ = 1, 200 do v = {v} end
    assert.equals(string.rep("[", 200) .. "1" .. string.rep("]", 200), encode(v))
    local path = string.rep("[1]", 200)
    assert.equals("json: nesting deeper than 200 at " .. path, err_of(encode, {v}))
    local o = {}
    for _ = 1, 1000 do o = {k = o} end
    assert.matches("^json: nesting deeper than 200 at " .. string.rep("%.k", 200) .. "$",
                   err_of(encode, o))
  end)

  it("validates its argument", function()
    assert.matches("bad argument #1 to '.-' %(value expected%)", err_of(encode))
  end)
end)

describe("lira.null and lira.array", function()
  it("null is one value, printed as lira.null", function()
    assert.equals("userdata", type(null))
    assert.equals("lira.null", tostring(null))
    assert.equals(null, decode("null"))
    assert.equals(null, decode("[null]")[1])
    package.loaded["lira.core"] = nil
    local again = require "lira.core"
    assert.equals(null, again.null)
    assert.equals(null, again.json_decode("null"))
    assert.is_false(getmetatable(null))
  end)

  it("array() makes or marks a table and refuses a foreign metatable", function()
    local a = array()
    assert.same({}, a)
    local t = {1, 2}
    assert.equals(t, array(t))
    assert.equals(t, array(t))
    assert.equals(getmetatable(a), getmetatable(t))
    assert.matches("bad argument #1 to '.-' %(table already has a metatable%)",
                   err_of(array, setmetatable({}, {})))
    assert.matches("bad argument #1 to '.-' %(table expected, got number%)", err_of(array, 1))
  end)
end)

describe("JSONTestSuite test_parsing", function()
  local dir = os.getenv("LIRA_TESTDATA")
  if dir == nil or dir == "" then dir = here .. "/../../../shared/testdata" end
  dir = dir .. "/jsontestsuite/test_parsing"

  local files = {}
  local p = assert(io.popen('ls -1 "' .. dir .. '"'))
  for name in p:lines() do files[#files + 1] = name end
  p:close()

  local function run(prefix)
    local out = {}
    for _, name in ipairs(files) do
      if name:sub(1, 2) == prefix then
        local ok, v = pcall(decode, read(dir .. "/" .. name))
        out[name] = { ok = ok, value = v }
      end
    end
    return out
  end

  it("holds the whole corpus", function()
    local count = { y_ = 0, n_ = 0, i_ = 0 }
    for _, name in ipairs(files) do
      local k = name:sub(1, 2)
      count[k] = count[k] + 1
    end
    assert.same({ y_ = 95, n_ = 188, i_ = 35 }, count)
  end)

  it("decodes every y_ file", function()
    for name, r in pairs(run("y_")) do
      assert.is_true(r.ok, name .. ": " .. tostring(r.value))
    end
  end)

  it("survives every i_ file, with a proper error when it refuses one", function()
    for name, r in pairs(run("i_")) do
      if not r.ok then
        assert.matches("^json decode error at byte %d+: ", r.value, 1, false, name)
      end
    end
  end)

  it("rejects every n_ file except the documented list, exactly", function()
    local accepted = {}
    for name, r in pairs(run("n_")) do
      if r.ok then
        accepted[#accepted + 1] = name
      else
        assert.matches("^json decode error at byte %d+: ", r.value, 1, false, name)
      end
    end
    table.sort(accepted)
    local known = { table.unpack(KNOWN_ACCEPTED_N) }
    table.sort(known)
    assert.same(known, accepted)
  end)

  it("the documented list in docs/json.md is the spec's list", function()
    local doc = read(here .. "/../../docs/json.md")
    local section = doc:match("<!%-%- accepted%-n%-files %-%->(.-)<!%-%- /accepted%-n%-files %-%->")
    assert.is_string(section, "docs/json.md lacks the accepted-n-files markers")
    local listed = {}
    for name in section:gmatch("`(n_[^`]+%.json)`") do listed[#listed + 1] = name end
    table.sort(listed)
    local known = { table.unpack(KNOWN_ACCEPTED_N) }
    table.sort(known)
    assert.same(known, listed)
  end)
end)
