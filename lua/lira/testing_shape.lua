-- lira.testing's shape checks (t.shape, docs/testing.md "Contract layer"):
-- does a decoded response still look like what the integration expects?
-- Every mismatching path is reported, not just the first.
local core = require "lira.core"

local M = {}

local NULL = core.null
local ARRAY_MT = getmetatable(core.array())

-- Wrappers are tables tagged with a private key, so that no user table
-- is ever mistaken for one.
local TAG = {}

local function wrap(kind, fields)
  fields[TAG] = kind
  return fields
end

function M.optional(shape) return wrap("optional", { shape = shape }) end
function M.nullable(shape) return wrap("nullable", { shape = shape }) end
function M.array_of(shape) return wrap("array", { shape = shape }) end
function M.one_of(...) return wrap("one_of", { shapes = table.pack(...) }) end
function M.equal(v) return wrap("equal", { value = v }) end

local TYPES = {
  string = true, number = true, integer = true, boolean = true, table = true,
  null = true, any = true, array = true, object = true,
}

local function is_array(v)
  if getmetatable(v) == ARRAY_MT then return true end
  if next(v) == nil then return true end
  local n = #v
  if n == 0 then return false end
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
  end
  return true
end

-- What a value is, in the words of a JSON author.
local function describe(v)
  if v == NULL then return "null" end
  local ty = type(v)
  if ty == "table" then return is_array(v) and "array" or "object" end
  if ty == "number" then
    return math.type(v) == "integer" and ("integer " .. v) or ("number " .. tostring(v))
  end
  if ty == "string" then
    local s = #v > 40 and (v:sub(1, 37) .. "...") or v
    return ("string %q"):format(s)
  end
  if ty == "boolean" then return "boolean " .. tostring(v) end
  return ty
end

local function type_ok(name, v)
  if name == "any" then return v ~= nil end
  if name == "null" then return v == NULL end
  if name == "integer" then return math.type(v) == "integer" end
  if name == "array" then return type(v) == "table" and is_array(v) end
  if name == "object" then return type(v) == "table" and (next(v) == nil or not is_array(v)) end
  return type(v) == name
end

local function key_path(path, k)
  if type(k) == "string" and k:find("^[%a_][%w_]*$") then return path .. "." .. k end
  if type(k) == "string" then return ("%s[%q]"):format(path, k) end
  return ("%s[%s]"):format(path, tostring(k))
end

local function shape_name(s)
  if type(s) == "string" then return s end
  if s == NULL then return "null" end
  if type(s) == "table" then
    local kind = s[TAG]
    if kind == "optional" or kind == "nullable" then return shape_name(s.shape) end
    if kind == "array" then return "array" end
    if kind == "equal" then return ("%s"):format(describe(s.value)) end
    if kind == "one_of" then
      local names = {}
      for i = 1, s.shapes.n do names[i] = shape_name(s.shapes[i]) end
      return table.concat(names, " or ")
    end
    if s[1] ~= nil and next(s, 1) == nil then return "array" end
    return "object"
  end
  if type(s) == "function" then return "a value the check accepts" end
  return tostring(s)
end

local check

local function check_array(v, elem, path, out)
  if type(v) ~= "table" or not is_array(v) then
    out[#out + 1] = ("%s: expected array, got %s"):format(path, describe(v))
    return
  end
  for i = 1, #v do check(v[i], elem, ("%s[%d]"):format(path, i), out) end
end

local function check_object(v, s, path, out)
  if type(v) ~= "table" or (next(v) ~= nil and is_array(v)) then
    out[#out + 1] = ("%s: expected object, got %s"):format(path, describe(v))
    return
  end
  local keys = {}
  for k in pairs(s) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local sub, x = s[k], v[k]
    local p = key_path(path, k)
    if x == nil then
      if not (type(sub) == "table" and sub[TAG] == "optional") then
        out[#out + 1] = ("%s: missing (expected %s)"):format(p, shape_name(sub))
      end
    else
      check(x, sub, p, out)
    end
  end
end

local function check_wrapped(v, s, path, out)
  local kind = s[TAG]
  if kind == "optional" then
    if v ~= nil then check(v, s.shape, path, out) end
  elseif kind == "nullable" then
    if v ~= NULL then check(v, s.shape, path, out) end
  elseif kind == "array" then
    check_array(v, s.shape, path, out)
  elseif kind == "equal" then
    if v ~= s.value then
      out[#out + 1] = ("%s: expected %s, got %s"):format(path, describe(s.value), describe(v))
    end
  elseif kind == "one_of" then
    for i = 1, s.shapes.n do
      if #check(v, s.shapes[i], path, {}) == 0 then return end
    end
    out[#out + 1] = ("%s: expected %s, got %s"):format(path, shape_name(s), describe(v))
  end
end

check = function(v, s, path, out)
  local ts = type(s)
  if ts == "string" then
    if not TYPES[s] then error(("t.shape: unknown type %q at %s"):format(s, path), 0) end
    if not type_ok(s, v) then
      out[#out + 1] = ("%s: expected %s, got %s"):format(path, s, describe(v))
    end
  elseif s == NULL then
    if v ~= NULL then out[#out + 1] = ("%s: expected null, got %s"):format(path, describe(v)) end
  elseif ts == "function" then
    local ok, why = s(v)
    if not ok then
      out[#out + 1] = ("%s: %s (got %s)"):format(path, why or "rejected", describe(v))
    end
  elseif ts == "table" and s[TAG] then
    check_wrapped(v, s, path, out)
  elseif ts == "table" and s[1] ~= nil and next(s, 1) == nil then
    check_array(v, s[1], path, out)
  elseif ts == "table" then
    check_object(v, s, path, out)
  else
    error(("t.shape: bad shape (%s) at %s"):format(ts, path), 0)
  end
  return out
end

-- check(value, shape) -> true | false, { "path: problem", ... }
function M.check(value, shape)
  local out = check(value, shape, "$", {})
  if #out == 0 then return true end
  return false, out
end

-- shape(value, shape[, what]): raise one error listing every mismatch.
function M.assert(value, shape, what)
  local ok, problems = M.check(value, shape)
  if ok then return value end
  error(("%s does not match its shape (%d problem%s):\n  %s"):format(
    what or "value", #problems, #problems == 1 and "" or "s",
    table.concat(problems, "\n  ")), 2)
end

return M
