-- lira.schema: option tables validated once, against one description that
-- also holds the defaults and the documentation (like Fluent Bit's
-- config_map: parsing, defaults and docs come from one list).
--
-- A schema is a tree: a `group` (a table option: an ordered list of named
-- fields, optionally `false` to switch it off) or a leaf (a check function,
-- what it wants in words, a default, a doc line). `validate` walks the
-- user's table against it: unknown keys and bad values raise an error that
-- names the option by its dotted path, absent ones get their default, and
-- the result is a fresh, fully filled table.
local M = {}

local function is_finite(v)
  return v == v and v ~= math.huge and v ~= -math.huge
end

-- ------------------------------------------------------------- leaves ---

-- A leaf. `check(v)` returns true, normalized value; or false[, reason]
-- (a reason replaces " must be <what>" in the message).
local function leaf(check, what, opts)
  local s = { kind = "leaf", check = check, what = what }
  for k, v in pairs(opts or {}) do s[k] = v end
  return s
end

-- number{min=, max=, above=, default=, doc=, integer=, false_ok=}:
-- `above` is an exclusive lower bound, `min`/`max` inclusive.
function M.number(o)
  local what = o.what
  if not what then
    local noun = o.integer and "an integer" or "a number"
    if o.above == 0 and not o.max then
      what = o.integer and "a positive integer" or "a positive number"
    elseif o.above ~= nil and o.max then
      what = ("%s in (%s, %s]"):format(noun, o.above, o.max)
    elseif o.min ~= nil and o.max then
      what = ("%s from %s to %s"):format(noun, o.min, o.max)
    elseif o.min ~= nil then
      what = ("%s >= %s"):format(noun, o.min)
    else
      what = noun
    end
    if o.false_ok then what = what .. " or false" end
  end
  local function check(v)
    if v == false and o.false_ok then return true, false end
    if type(v) ~= "number" or not is_finite(v) then return false end
    if o.integer and math.type(v) ~= "integer" then
      if v ~= math.floor(v) then return false end
      v = math.tointeger(v)
    end
    if o.above ~= nil and not (v > o.above) then return false end
    if o.min ~= nil and v < o.min then return false end
    if o.max ~= nil and v > o.max then return false end
    return true, v
  end
  return leaf(check, what, o)
end

function M.boolean(o)
  return leaf(function(v)
    if type(v) == "boolean" then return true, v end
    return false
  end, "a boolean", o)
end

function M.func(o)
  return leaf(function(v)
    if type(v) == "function" then return true, v end
    return false
  end, "a function", o)
end

-- one_of{"a", "b", default=}: a string among the listed ones.
function M.one_of(o)
  local set, words = {}, {}
  for i, s in ipairs(o) do
    set[s] = true
    words[i] = ("%q"):format(s)
  end
  local what = #words > 2
    and "one of " .. table.concat(words, ", ", 1, #words - 1) .. " or " .. words[#words]
    or table.concat(words, " or ")
  return leaf(function(v)
    if set[v] then return true, v end
    return false
  end, what, o)
end

-- string{pattern=, what=, nonempty=}
function M.string(o)
  local function check(v)
    if type(v) ~= "string" then return false end
    if o.nonempty and v == "" then return false end
    if o.pattern and not v:find(o.pattern) then return false end
    return true, v
  end
  return leaf(check, o.what or (o.nonempty and "a non-empty string" or "a string"), o)
end

-- custom(check, what, opts): check(v) -> true, value | false[, reason]
function M.custom(check, what, o)
  return leaf(check, what, o)
end

-- ------------------------------------------------------------- groups ---

-- group(fields, opts): fields is a list of { name, spec }; opts.false_ok
-- lets the whole table be `false` (switched off); opts.default_off makes
-- `false` its default.
function M.group(fields, o)
  local s = { kind = "group", fields = {}, order = {} }
  for k, v in pairs(o or {}) do s[k] = v end
  for i, f in ipairs(fields) do
    s.order[i] = f[1]
    s.fields[f[1]] = f[2]
  end
  return s
end

-- ------------------------------------------------------------ walking ---

local function fail(who, msg)
  error(who .. ": " .. msg, 0)
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return t
end

local validate_group

local function validate_value(spec, v, who, path)
  if spec.kind == "group" then
    if v == false and spec.false_ok then return false end
    if type(v) ~= "table" then
      fail(who, ("option %s must be a table%s"):format(path, spec.false_ok and " or false" or ""))
    end
    return validate_group(spec, v, who, path .. ".")
  end
  local ok, out = spec.check(v)
  if not ok then
    -- A reason starts with " " or ": " ("option headers has an invalid ...").
    if type(out) == "string" then fail(who, ("option %s%s"):format(path, out)) end
    fail(who, ("option %s must be %s"):format(path, spec.what))
  end
  return out
end

local function default_of(spec, who, path)
  if spec.required then fail(who, ("option %s is required"):format(path)) end
  if spec.kind == "group" then
    if spec.default_off then return false end
    return validate_group(spec, {}, who, path .. ".")
  end
  return copy(spec.default)
end

function validate_group(spec, given, who, prefix)
  for k in pairs(given) do
    if type(k) ~= "string" or spec.fields[k] == nil then
      fail(who, ("unknown option %s%s"):format(prefix, tostring(k)))
    end
  end
  local out = {}
  for _, name in ipairs(spec.order) do
    local f, v = spec.fields[name], given[name]
    if v == nil then
      out[name] = default_of(f, who, prefix .. name)
    else
      out[name] = validate_value(f, v, who, prefix .. name)
    end
  end
  return out
end

-- validate(spec, given, who): the normalized copy of `given` (a table, or
-- nil for all defaults); raises "<who>: option <path> must be ..." with no
-- position (callers re-raise at their caller's level).
function M.validate(spec, given, who)
  if given == nil then given = {} end
  if type(given) ~= "table" then fail(who, "options must be a table") end
  return validate_group(spec, given, who, "")
end

-- The defaults as a table (what `validate(spec, {})` would fill), with
-- required options left out.
function M.defaults(spec)
  local out = {}
  for _, name in ipairs(spec.order) do
    local f = spec.fields[name]
    if not f.required then
      if f.kind == "group" then
        out[name] = not f.default_off and M.defaults(f) or false
      else
        out[name] = copy(f.default)
      end
    end
  end
  return out
end

local function show(v)
  if v == nil then return "none" end
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) == "table" then return next(v) == nil and "{}" or "(table)" end
  return tostring(v)
end

-- The documentation rows: { path =, default = (text), what =, doc = } for
-- every leaf and group, in order. docs/lua-api.md's option tables are
-- written from these (a test holds them equal).
function M.rows(spec, prefix, out)
  out = out or {}
  prefix = prefix or ""
  for _, name in ipairs(spec.order) do
    local f, path = spec.fields[name], prefix .. name
    if f.kind == "group" then
      out[#out + 1] = { path = path, default = f.required and "required"
                          or (f.default_off and "false" or "on"),
                        what = "table" .. (f.false_ok and " or false" or ""), doc = f.doc }
      M.rows(f, path .. ".", out)
    else
      out[#out + 1] = { path = path,
                        default = f.required and "required" or f.shown or show(f.default),
                        what = f.what, doc = f.doc }
    end
  end
  return out
end

return M
