-- lira.webhook.verify (LUA-API.md §7, docs/webhooks.md): the published
-- examples, rotation, every error kind, argument errors, and deliveries
-- signed by the real `lira sandbox send-webhook` and echoed back by the
-- sandbox's /anything endpoint.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path

local lira = require "lira"
local sandbox = require "helpers.sandbox"

local verify = lira.webhook.verify

local STD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
local STD = {
  headers = {
    ["webhook-id"] = "msg_p5jXN8AQM9LWM0D4loKWxJek",
    ["webhook-timestamp"] = "1614265330",
    ["webhook-signature"] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
  },
  body = '{"test": 2432232314}',
  now = 1614265330,
}

-- The Standard Webhooks library example, with some options replaced
-- (`false` removes one: `now = false` means the wall clock).
local function std(over)
  local o = { scheme = "standard", secret = STD_SECRET, headers = {}, body = STD.body,
              now = STD.now }
  for k, v in pairs(STD.headers) do o.headers[k] = v end
  for k, v in pairs(over or {}) do
    if v == false and k ~= "body" then v = nil end
    o[k] = v
  end
  return o
end

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- The error a failed verify returned; checks its shape on the way.
local function failure(opts)
  local ok, err = verify(opts)
  assert.is_nil(ok)
  assert.is_table(err)
  assert.is_string(err.kind)
  assert.is_string(err.message)
  assert.equal(err.kind .. ": " .. err.message, tostring(err))
  local secrets = type(opts.secret) == "table" and opts.secret or { opts.secret }
  for _, s in ipairs(secrets) do
    assert.is_nil(err.message:find(s, 1, true), "the message quotes a secret")
  end
  return err
end

local function raises(opts, pattern)
  local ok, msg = pcall(function()
    local r = verify(opts)   -- not a tail call: the error points at this line
    return r
  end)
  assert.is_false(ok)
  assert.is_string(msg)
  assert.truthy(msg:find(pattern, 1, true), msg)
  return msg
end

describe("lira.webhook.verify", function()
  it("accepts every published example and rejects every invalid variant with its kind", function()
    local doc = lira.json.decode(read_file("../shared/testdata/vectors/webhooks-published.json"))
    local n = 0
    for _, c in ipairs(doc.cases) do
      local scheme = (c.scheme == "standard-webhooks" or c.scheme == "svix") and "standard"
        or c.scheme
      local opts = { scheme = scheme, secret = c.secret, headers = c.headers, body = c.body,
                     tolerance = c.tolerance_s ~= lira.null and c.tolerance_s or nil,
                     now = c.now ~= lira.null and c.now or nil }
      if c.expect_valid then
        local ok, err = verify(opts)
        assert.is_true(ok, c.id .. ": " .. tostring(err))
      else
        local want = c.id:find("too-old", 1, true) and "expired" or "bad_signature"
        assert.equal(want, failure(opts).kind, c.id)
      end
      n = n + 1
    end
    assert.equal(8, n)
  end)

  it("takes headers in any case and a raw base64 secret without whsec_", function()
    local o = std()
    o.headers = { ["WEBHOOK-ID"] = STD.headers["webhook-id"],
                  ["Webhook-Timestamp"] = STD.headers["webhook-timestamp"],
                  ["Webhook-Signature"] = STD.headers["webhook-signature"] }
    assert.is_true(verify(o))
    o.secret = STD_SECRET:sub(7)
    assert.is_true(verify(o))
  end)

  it("accepts any of several secrets (rotation) and any of several signatures", function()
    local other = "whsec_c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24="
    assert.is_true(verify(std { secret = { other, STD_SECRET } }))
    assert.is_true(verify(std { secret = { STD_SECRET, other } }))
    assert.equal("bad_signature", failure(std { secret = { other } }).kind)
    local o = std()
    o.headers["webhook-signature"] = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1a,eA== "
      .. STD.headers["webhook-signature"]
    assert.is_true(verify(o))
  end)

  it("reports missing_header, malformed, bad_signature and expired", function()
    local o = std()
    o.headers["webhook-id"] = nil
    local err = failure(o)
    assert.equal("missing_header", err.kind)
    assert.equal("webhook-id", err.header)

    o = std()
    o.headers["webhook-signature"] = "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert.equal("malformed", failure(o).kind)
    o.headers["webhook-signature"] = "v1," .. ("A"):rep(5000)
    assert.equal("malformed", failure(o).kind)
    o.headers["webhook-signature"] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\0"
    assert.equal("malformed", failure(o).kind)
    o = std()
    o.headers["webhook-timestamp"] = "yesterday"
    assert.equal("malformed", failure(o).kind)
    o = std()
    for i = 1, 300 do o.headers["x-filler-" .. i] = "1" end
    assert.equal("malformed", failure(o).kind)

    assert.equal("bad_signature", failure(std { body = STD.body .. " " }).kind)

    err = failure(std { now = STD.now + 301 })
    assert.equal("expired", err.kind)
    assert.equal("webhook-timestamp", err.header)
    assert.equal("expired", failure(std { now = STD.now - 301 }).kind)
    assert.is_true(verify(std { now = STD.now + 300 }))
    assert.equal("expired", failure(std { now = STD.now + 11, tolerance = 10 }).kind)
    -- Without `now`, the wall clock: a 2021 timestamp is long expired.
    assert.equal("expired", failure(std { now = false }).kind)
  end)

  it("verifies the generic hmac scheme with each algorithm, encoding, prefix and template", function()
    -- Expected values computed independently with Python's hmac module.
    assert.is_true(verify { scheme = "hmac", secret = "It's a Secret to Everybody",
      header = "X-Hub-Signature", algorithm = "sha1", prefix = "sha1=", body = "Hello, World!",
      headers = { ["x-hub-signature"] = "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59" } })
    assert.is_true(verify { scheme = "hmac", secret = "shpss_secret", body = '{"id":1}',
      header = "X-Shopify-Hmac-Sha256", encoding = "base64",
      headers = { ["X-Shopify-Hmac-Sha256"] = "xocA3LkeJ/RvNrkxep1EUtFHuj7rIoIqZYaLU26LyPQ=" } })
    assert.is_true(verify { scheme = "hmac", secret = "k512", body = "abc", header = "X-Sig",
      algorithm = "sha512", headers = { ["X-Sig"] =
        "71bcb1576a71bd7737a565867455564e04e68de19cbea1d871413978bcc161f0" ..
        "62af295617f426717f01234c093aede205396a2db868c71bef9da23c20989ed4" } })
    local slack = { scheme = "hmac", secret = "8f742231b10e8888abcd99yyyzzz85a5",
      header = "X-Slack-Signature", prefix = "v0=", timestamp_header = "X-Slack-Request-Timestamp",
      template = "v0:{timestamp}:{body}", body = "token=x", now = 1531420618,
      headers = { ["X-Slack-Request-Timestamp"] = "1531420618", ["X-Slack-Signature"] =
        "v0=3eeaac3070533b0f5536145f88159d8e50277d9f01e4865f87e2d749f4789397" } }
    assert.is_true(verify(slack))
    slack.now = 1531420618 + 301
    assert.equal("expired", failure(slack).kind)
    slack.now, slack.body = 1531420618, "token=y"
    assert.equal("bad_signature", failure(slack).kind)
    slack.headers["X-Slack-Request-Timestamp"] = nil
    assert.equal("missing_header", failure(slack).kind)
  end)

  it("raises on wrong arguments, naming the option, at the caller", function()
    local msg = raises(std { secrte = "x" }, "unknown option secrte")
    assert.truthy(msg:find("webhook_spec.lua", 1, true), msg)
    raises({ secret = "x", headers = {}, body = "" }, "option scheme is required")
    raises(std { scheme = "svix" }, "option scheme must be")
    raises(std { secret = "" }, "option secret must be")
    raises(std { secret = {} }, "option secret must hold 1 to 16")
    local many = {}
    for i = 1, 17 do many[i] = "whsec_" .. i end
    raises(std { secret = many }, "option secret must hold 1 to 16")
    raises(std { secret = { STD_SECRET, 5 } }, "option secret must be")
    raises(std { secret = "whsec_not base64" }, "option secret 1 of 1: not whsec_<base64>")
    raises(std { headers = "x" }, "option headers must be a table")
    raises(std { headers = { ["webhook-id"] = 5 } }, "option headers must map")
    raises(std { body = false }, "option body must be a string")
    raises(std { tolerance = 0 }, "option tolerance must be")
    raises(std { tolerance = 1.5 }, "option tolerance must be")
    raises(std { now = -1 }, "option now must be")
    raises(std { prefix = "v1," }, "option prefix is only for scheme \"hmac\"")
    local h = { scheme = "hmac", secret = "k", headers = {}, body = "" }
    raises(h, "option header is required")
    h.header = "X Sig"
    raises(h, "option header must be an HTTP header name")
    h.header = "X-Sig"
    assert.equal("missing_header", failure(h).kind)
    h.algorithm = "md5"
    raises(h, "option algorithm must be")
    h.algorithm, h.encoding = nil, "base64url"
    raises(h, "option encoding must be")
    h.encoding, h.template = nil, "{timestamp}"
    raises(h, "option template: does not contain {body}")
    h.template = "{id}.{body}"
    raises(h, "option template: only {body} and {timestamp}")
    h.template, h.timestamp_header = "{body}", "X-Ts"
    raises(h, "option template: must contain {timestamp}")
  end)
end)

-- Real deliveries: `lira sandbox send-webhook` signs and POSTs to the
-- sandbox's /anything, which echoes the headers and body it received.
describe("lira.webhook.verify on deliveries from lira sandbox send-webhook", function()
  local sb
  setup(function() sb = sandbox.start() end)
  teardown(function() if sb then sb:stop() end end)

  local function sh_quote(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
  end

  -- Send one webhook; the echo: { headers =, body = }.
  local function send(scheme, secret, extra)
    local cmd = { sh_quote(assert(os.getenv("LIRA_BIN"))), "sandbox", "send-webhook",
                  "--to", sh_quote(sb.url .. "/anything/hook"), "--scheme", scheme,
                  "--secret", sh_quote(secret), "--show-response" }
    for _, a in ipairs(extra or {}) do cmd[#cmd + 1] = sh_quote(a) end
    local p = assert(io.popen(table.concat(cmd, " ") .. " 2>&1", "r"))
    local status = p:read("l")
    local body = p:read("a")
    p:close()
    assert.equal("HTTP 200", status, body)
    local echo = lira.json.decode(body)
    return { headers = echo.headers, body = echo.body }
  end

  local cases = {
    { scheme = "standard", secret = STD_SECRET, wrong = "whsec_d3Jvbmc=", timestamped = true },
    { scheme = "stripe", secret = "whsec_test_secret", wrong = "whsec_wrong", timestamped = true },
    { scheme = "github", secret = "It's a Secret to Everybody", wrong = "nope" },
  }
  for _, c in ipairs(cases) do
    it(c.scheme .. ": valid, wrong secret, tampered, expired", function()
      local ts = 1700000000
      local d = send(c.scheme, c.secret, { "--timestamp", tostring(ts), "--id", "evt_" .. c.scheme })
      local function opts(over)
        local o = { scheme = c.scheme, secret = c.secret, headers = d.headers, body = d.body,
                    now = ts + 5 }
        for k, v in pairs(over or {}) do o[k] = v end
        return o
      end
      local ok, err = verify(opts())
      assert.is_true(ok, tostring(err))
      assert.is_true(verify(opts { secret = { c.wrong, c.secret } }))
      assert.equal("bad_signature", failure(opts { secret = c.wrong }).kind)
      if c.timestamped then
        assert.equal("expired", failure(opts { now = ts + 301 }).kind)
      else
        assert.is_true(verify(opts { now = ts + 10 ^ 6 }))
      end

      local t = send(c.scheme, c.secret, { "--timestamp", tostring(ts), "--tamper" })
      assert.equal("bad_signature", failure(opts { headers = t.headers, body = t.body }).kind)
    end)
  end

  it("verifies a delivery signed now against the wall clock", function()
    local d = send("stripe", "whsec_test_secret")
    assert.is_true(verify { scheme = "stripe", secret = "whsec_test_secret",
                            headers = d.headers, body = d.body })
  end)
end)

describe("docs/webhooks.md", function()
  local doc = read_file(here .. "../../docs/webhooks.md")

  it("has the option table the code validates against", function()
    for _, r in ipairs(lira.webhook.rows()) do
      local line = ("| `%s` | %s | %s | %s |"):format(r.path, r.default, r.what, r.doc or "")
      assert.is_truthy(doc:find(line, 1, true), "docs/webhooks.md lacks: " .. line)
    end
  end)

  it("has examples that run", function()
    local n = 0
    for code in doc:gmatch("<!%-%- example: webhook %-%->\n```lua\n(.-)\n```") do
      n = n + 1
      local chunk = assert(load(code, "=docs/webhooks.md example " .. n))
      chunk()
    end
    assert.equal(4, n)
  end)
end)
