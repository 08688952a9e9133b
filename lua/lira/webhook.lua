-- lira.webhook: verify a received webhook's signature (LUA-API.md §7,
-- docs/webhooks.md).
--
--   local ok, err = lira.webhook.verify {
--     scheme = "standard" | "stripe" | "github" | "hmac",
--     secret = "whsec_..." or { "whsec_new", "whsec_old" },   -- rotation
--     headers = { ["Webhook-Id"] = ..., ... },                 -- any case
--     body = raw_body,
--     tolerance = 300, now = os.time(),
--     -- "hmac" only:
--     header =, algorithm =, encoding =, prefix =, timestamp_header =, template =,
--   }
--   -- ok == true, or nil, err with err.kind "missing_header" | "malformed" |
--   -- "bad_signature" | "expired" (err.header names the header concerned)
--
-- Wrong arguments (an unknown option, a bad secret, a template without
-- {body}) raise, naming the option; a delivery that does not verify is an
-- ordinary outcome and returns nil, err. The work is done in C
-- (src/core/webhook_verify.c): constant-time comparisons, bounded parsing,
-- the body MACed in place.
local core = require "lira.core"
local schema = require "lira.schema"

local M = {}

local WHO = "lira.webhook.verify"
local MAX_SECRETS = 16
local HMAC_ONLY = { "header", "algorithm", "encoding", "prefix", "timestamp_header", "template" }

local function check_secret(v)
  local list = type(v) == "table" and v or { v }
  if #list < 1 or #list > MAX_SECRETS then
    return false, (" must hold 1 to %d secrets"):format(MAX_SECRETS)
  end
  local n = 0
  for _ in pairs(list) do n = n + 1 end
  if n ~= #list then return false end
  local out = {}
  for i, s in ipairs(list) do
    if type(s) ~= "string" or s == "" or s:find("%z") then return false end
    out[i] = s
  end
  return true, out
end

local function check_headers(v)
  if type(v) ~= "table" then return false end
  for k, x in pairs(v) do
    if type(k) ~= "string" or type(x) ~= "string" then
      return false, " must map header names (strings) to values (strings)"
    end
  end
  return true, v
end

local function header_name(what)
  return schema.string { pattern = "^[%w!#$%%&'*+%-.^_`|~]+$", what = "an HTTP header name",
                         doc = what }
end

-- The options, their defaults and their docs (docs/webhooks.md).
local OPTIONS = schema.group({
  { "scheme", schema.one_of { "standard", "stripe", "github", "hmac", required = true,
      doc = "the provider's signing scheme" } },
  { "secret", schema.custom(check_secret, "a non-empty string or a list of 1 to 16 of them",
      { required = true, doc = "the signing secret; a list accepts any of them (rotation)" }) },
  { "headers", schema.custom(check_headers, "a table", { required = true,
      doc = "the received headers, name = value, names in any case" }) },
  { "body", schema.string { required = true, doc = "the raw body, exactly as received" } },
  { "tolerance", schema.number { integer = true, min = 1, max = 31536000, default = 300,
      doc = "seconds a timestamp may differ from now, either way" } },
  { "now", schema.number { integer = true, min = 0, shown = "os.time()",
      doc = "the current unix time in seconds (for tests)" } },
  { "header", header_name("hmac: the signature header (required)") },
  { "algorithm", schema.one_of { "sha256", "sha1", "sha512", default = "sha256",
      doc = "hmac: the HMAC hash" } },
  { "encoding", schema.one_of { "hex", "base64", default = "hex",
      doc = "hmac: how the MAC is written (hex in either case; strict base64)" } },
  { "prefix", schema.string { doc = "hmac: text before the MAC, e.g. \"sha256=\"" } },
  { "timestamp_header", header_name("hmac: a header with the unix time, checked against " ..
                                    "tolerance and signed through {timestamp}") },
  { "template", schema.string { doc = "hmac: the signed content; default \"{body}\", or " ..
      "\"{timestamp}.{body}\" with a timestamp_header" } },
})

M.rows = function() return schema.rows(OPTIONS) end

local function validate(opts)
  local o = schema.validate(OPTIONS, opts, WHO)
  if o.scheme ~= "hmac" then
    for _, k in ipairs(HMAC_ONLY) do
      if opts[k] ~= nil then
        error(("%s: option %s is only for scheme \"hmac\""):format(WHO, k), 0)
      end
    end
  elseif o.header == nil then
    error(WHO .. ": option header is required for scheme \"hmac\"", 0)
  end
  return o
end

-- lira.webhook.verify(opts) -> true | nil, err
function M.verify(opts)
  local ok, o = pcall(validate, opts)
  if not ok then error(o, 2) end
  o.secrets, o.secret = o.secret, nil
  if o.now == nil then o.now = os.time() end
  local done, res, err = pcall(core.webhook_verify, o)
  if not done then error(res, 2) end
  return res, err
end

return M
