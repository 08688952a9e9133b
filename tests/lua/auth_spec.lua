-- lira.auth (§6): the header each credential sends (as the sandbox saw it),
-- token functions with and without expiry, refresh on 401, and OAuth2
-- client credentials against the sandbox's real token endpoint — caching
-- (the server issued one token), refresh before expiry, one refresh + one
-- retry on a 401 (in the server's log), one shared refresh for concurrent
-- tasks, and bad credentials (a clear error without the secret).
package.path = "tests/lua/?.lua;" .. package.path

local lira = require "lira"
local auth = require "lira.auth"

local sb
setup(function() sb = require("helpers.sandbox").start { "--seed", "7" } end)
teardown(function() if sb then sb:stop() end end)

local n = 0
local function client_with(a, extra)
  n = n + 1
  local o = { name = "auth-spec-" .. n, base_url = sb.url, auth = a, retry = false }
  for k, v in pairs(extra or {}) do o[k] = v end
  return lira.client(o)
end

-- The headers the sandbox received for one GET /anything.
local function sent_headers(c, opts)
  local res = assert(c:get("/anything", opts))
  assert.equals(200, res.status)
  return res:json().headers
end

local function oauth2(query, extra)
  local o = { token_url = sb.url .. "/oauth/token" .. (query or ""), client_id = "lira",
              client_secret = "lira-secret" }
  for k, v in pairs(extra or {}) do o[k] = v end
  return lira.auth.oauth2(o)
end

describe("header shapes", function()
  it("bearer, basic and header send what RFC 6750 / 7617 say", function()
    assert.equals("Bearer abc.def", sent_headers(client_with(lira.auth.bearer("abc.def"))).Authorization)
    assert.equals("Basic dXNlcjpwOnNz", sent_headers(client_with(lira.auth.basic("user", "p:ss"))).Authorization)
    assert.equals("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
                  sent_headers(client_with(lira.auth.basic("Aladdin", "open sesame"))).Authorization)
    local h = sent_headers(client_with(lira.auth.header("X-Api-Key", "k-1")))
    assert.equals("k-1", h["X-Api-Key"])
    assert.is_nil(h.Authorization)
  end)

  it("is sent when a call has options but no headers table", function()
    -- regression: options without `headers` used to skip the credential
    local c = client_with(lira.auth.bearer("abc"))
    assert.equals("Bearer abc", sent_headers(c, { query = { x = 1 } }).Authorization)
    assert.equals("Bearer abc", sent_headers(c, {}).Authorization)
  end)

  it("a per-call header of the same name wins", function()
    local c = client_with(lira.auth.bearer("abc"))
    local h = sent_headers(c, { headers = { authorization = "Bearer mine" } })
    assert.equals("Bearer mine", h.authorization)     -- the sandbox echoes names as sent
    assert.is_nil(h.Authorization)
    assert.equals("Bearer abc", sent_headers(c, { headers = { ["X-Other"] = "1" } }).Authorization)
  end)

  it("base64 matches RFC 4648's vectors", function()
    local v = { [""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==",
                fooba = "Zm9vYmE=", foobar = "Zm9vYmFy" }
    for k, want in pairs(v) do assert.equals(want, auth._base64(k)) end
  end)

  it("rejects bad arguments, without echoing secrets", function()
    assert.has_error(function() lira.auth.bearer("") end,
      "bad argument #1 to 'lira.auth.bearer' (token must be a non-empty string without CR/LF, or a function)")
    assert.has_error(function() lira.auth.bearer("a\r\nX-Injected: 1") end)
    assert.has_error(function() lira.auth.basic("a:b", "p") end,
      "bad argument #1 to 'lira.auth.basic' (user must be a string without ':' or control characters)")
    assert.has_error(function() lira.auth.basic("a", nil) end,
      "bad argument #2 to 'lira.auth.basic' (password must be a string without CR/LF)")
    assert.has_error(function() lira.auth.header("Bad Name", "v") end,
      "bad argument #1 to 'lira.auth.header' (name must be a header name)")
    assert.has_error(function() lira.auth.header("X-K", 5) end)
    local a = lira.auth.basic("user", "hunter2")
    assert.equals("lira.auth.basic(<redacted>)", tostring(a))
  end)
end)

describe("token functions", function()
  it("without expires_in: called for every request", function()
    local calls = 0
    local c = client_with(lira.auth.bearer(function() calls = calls + 1; return "t" .. calls end))
    assert.equals("Bearer t1", sent_headers(c).Authorization)
    assert.equals("Bearer t2", sent_headers(c).Authorization)
    assert.equals(2, calls)
  end)

  it("with expires_in: cached, refreshed ahead of expiry while the old value still serves", function()
    local calls = 0
    local c = client_with(lira.auth.header("X-Token", function()
      calls = calls + 1
      return "v" .. calls, 2            -- margin min(30, 10 %) = 0.2 s
    end))
    assert.equals("v1", sent_headers(c)["X-Token"])
    assert.equals("v1", sent_headers(c)["X-Token"])
    assert.equals(1, calls)
    lira.sleep(1.83)                    -- inside the margin, 0.17 s before expiry
    assert.equals("v1", sent_headers(c)["X-Token"])   -- old value, refresh started
    lira.sleep(0.01)
    assert.equals(2, calls)
    assert.equals("v2", sent_headers(c)["X-Token"])
    lira.sleep(2.05)                    -- v2 has expired: the call waits for v3
    assert.equals("v3", sent_headers(c)["X-Token"])
    assert.equals(3, calls)
  end)

  it("a failing function fails the call with kind auth", function()
    local c = client_with(lira.auth.bearer(function() return nil, "vault is down" end))
    local res, err = c:get("/anything")
    assert.is_nil(res)
    assert.equals("auth", err.kind)
    assert.matches("vault is down", err.message)
    local c2 = client_with(lira.auth.bearer(function() error("boom") end))
    local _, err2 = c2:get("/anything")
    assert.equals("auth", err2.kind)
    assert.matches("boom", err2.message)
    local c3 = client_with(lira.auth.bearer(function() return 42 end))
    local _, err3 = c3:get("/anything")
    assert.matches("returned number", err3.message)
  end)

  it("a 401 calls the function again and retries once; a static token is not retried", function()
    local minter = lira.client { name = "auth-spec-minter", base_url = sb.url }
    local calls = 0
    local c = client_with(lira.auth.bearer(function()
      calls = calls + 1
      if calls == 1 then return "stale-token", 3600 end
      local res = assert(minter:post("/oauth/token", {
        body = "grant_type=client_credentials&client_id=lira&client_secret=lira-secret",
        headers = { ["Content-Type"] = "application/x-www-form-urlencoded" } }))
      return res:json().access_token, 3600
    end))
    local since = sb:reset()
    local res = assert(c:get("/oauth/protected/fn"))
    assert.equals(200, res.status)
    assert.equals(2, calls)
    assert.equals(2, #sb:log_since(since, "/oauth/protected"))
    since = sb:log_seq()
    local static = client_with(lira.auth.bearer("never-valid"))
    assert.equals(401, assert(static:get("/oauth/protected/static")).status)
    assert.equals(1, #sb:log_since(since, "/oauth/protected"))
  end)
end)

describe("oauth2", function()
  it("validates its options by name and never shows the secret", function()
    local function msg(o)
      local ok, e = pcall(lira.auth.oauth2, o)
      assert.is_false(ok)
      return (tostring(e):gsub("^[^:]*:%d+: ", ""))
    end
    assert.equals("lira.auth.oauth2: option client_secret is required",
                  msg { token_url = "http://x/t", client_id = "a" })
    assert.equals("lira.auth.oauth2: unknown option secret",
                  msg { token_url = "http://x/t", client_id = "a", client_secret = "s", secret = "s" })
    assert.equals("lira.auth.oauth2: option token_url must be an http:// or https:// URL",
                  msg { token_url = "x/t", client_id = "a", client_secret = "s" })
    assert.equals("lira.auth.oauth2: option client_auth must be \"basic\" or \"body\"",
                  msg { token_url = "http://x/t", client_id = "a", client_secret = "s",
                        client_auth = "jwt" })
    local m = msg { token_url = "http://x/t", client_id = "a", client_secret = 123456789 }
    assert.equals("lira.auth.oauth2: option client_secret must be a non-empty string", m)
    assert.matches("^lira%.auth%.oauth2: option timeout%.read must be a positive number$",
                   msg { token_url = "http://x/t", client_id = "a", client_secret = "s",
                         timeout = { read = 0 } })
    local a = oauth2()
    assert.equals("lira.auth.oauth2(<redacted>)", tostring(a))
  end)

  it("fetches once and caches the token across calls (Basic client auth)", function()
    local c = client_with(oauth2("?expires_in=60", { scope = { "orders", "read" } }))
    local since = sb:reset()
    for i = 1, 5 do
      local res = assert(c:get("/oauth/protected/orders"))
      assert.equals(200, res.status)
      assert.equals(i, res:json().uses)
      assert.equals("orders read", res:json().scope)
    end
    local st = sb:oauth_stats()
    assert.equals(1, st.issued)
    assert.equals(5, st.accepted)
    local tok = sb:log_since(since, "/oauth/token")
    assert.equals(1, #tok)
    assert.equals("POST", tok[1].method)
    assert.equals("expires_in=60", tok[1].query)
    assert.equals("Basic " .. auth._base64("lira:lira-secret"), tok[1].headers.Authorization)
    assert.equals("application/x-www-form-urlencoded", tok[1].headers["Content-Type"])
  end)

  it("sends the credentials in the body with client_auth = body", function()
    local c = client_with(oauth2("?accept=svc%3Ap%26ss", { client_id = "svc",
      client_secret = "p&ss", client_auth = "body", params = { audience = "api" } }))
    local since = sb:reset()
    assert.equals(200, assert(c:get("/oauth/protected")).status)
    local tok = sb:log_since(since, "/oauth/token")
    assert.equals(1, #tok)
    assert.is_nil(tok[1].headers.Authorization)
  end)

  it("refreshes before expires_in, so no call meets an expired token", function()
    local c = client_with(oauth2("?expires_in=2"))     -- margin 0.2 s
    local since = sb:reset()
    assert.equals(200, assert(c:get("/oauth/protected/a")).status)
    lira.sleep(1.83)                                                 -- margin is 0.2 s
    assert.equals(200, assert(c:get("/oauth/protected/b")).status)   -- starts the refresh
    lira.sleep(0.05)
    assert.equals(200, assert(c:get("/oauth/protected/c")).status)
    local st = sb:oauth_stats()
    assert.equals(2, st.issued)
    assert.equals(0, st.rejected)
    local tok = sb:log_since(since, "/oauth/token")
    assert.equals(2, #tok)
    assert.is_true(tok[2].mono_ns < tok[1].mono_ns + 2e9, "the refresh came after expiry")
  end)

  it("on a 401 refreshes once and retries once (the server's log shows it)", function()
    local c = client_with(oauth2("?expires_in=3600"))
    assert.equals(200, assert(c:get("/oauth/protected/first")).status)
    local since = sb:log_seq()
    sb:post("/oauth/_revoke")
    local res = assert(c:get("/oauth/protected/after-revoke"))
    assert.equals(200, res.status)
    local seen = {}
    for _, e in ipairs(sb:log_since(since, "/oauth/")) do seen[#seen + 1] = e.method .. " " .. e.path end
    assert.same({ "GET /oauth/protected/after-revoke", "POST /oauth/token",
                  "GET /oauth/protected/after-revoke" }, seen)
  end)

  it("retries only once: a second 401 is returned as it is", function()
    local c = client_with(oauth2("?expires_in=0"))     -- every token is born expired
    local since = sb:reset()
    local res = assert(c:get("/oauth/protected/never"))
    assert.equals(401, res.status)
    assert.matches('error="invalid_token"', res.headers["www-authenticate"])
    assert.equals(2, #sb:log_since(since, "/oauth/protected"))
    assert.equals(2, #sb:log_since(since, "/oauth/token"))
  end)

  it("concurrent tasks share one token fetch, and one refresh after a 401", function()
    local c = client_with(oauth2("?expires_in=3600"))
    sb:reset()
    local statuses = {}
    local function burst(tag)
      lira.run(function()
        local tasks = {}
        for i = 1, 20 do
          tasks[i] = lira.spawn(function()
            return assert(c:get("/oauth/protected/" .. tag)).status
          end)
        end
        for i = 1, 20 do
          local ok, status = tasks[i]:join()
          assert.is_true(ok)
          statuses[#statuses + 1] = status
        end
      end)
    end
    burst("first")
    assert.equals(1, sb:oauth_stats().issued)
    sb:post("/oauth/_revoke")
    burst("second")
    assert.equals(2, sb:oauth_stats().issued)
    for _, s in ipairs(statuses) do assert.equals(200, s) end
    assert.equals(40, #statuses)
  end)

  it("bad credentials: a clear auth error that does not contain the secret", function()
    local secret = "Sup3r-s3cret-value"
    local c = client_with(oauth2(nil, { client_secret = secret }))
    local res, err = c:get("/oauth/protected")
    assert.is_nil(res)
    assert.equals("auth", err.kind)
    assert.equals(401, err.status)
    assert.matches("answered 401 invalid_client", err.message)
    assert.matches("/oauth/token", err.message)
    assert.is_nil(tostring(err):find(secret, 1, true))
    assert.is_nil(err.message:find(secret, 1, true))
  end)

  it("an unreachable token endpoint: kind auth, with the cause", function()
    local a = lira.auth.oauth2 { token_url = "http://127.0.0.1:1/token", client_id = "x",
                                 client_secret = "y", timeout = { connect = 1 } }
    local res, err = client_with(a):get("/oauth/protected")
    assert.is_nil(res)
    assert.equals("auth", err.kind)
    assert.equals("connect", err.cause.kind)
    assert.matches("token request to http://127.0.0.1:1/token failed", err.message)
  end)

  it("falls back when the token cannot be had", function()
    local c = client_with(oauth2(nil, { client_secret = "wrong" }),
                          { fallback = function(_, err) return "fb:" .. err.kind end })
    assert.equals("fb:auth", c:get("/oauth/protected"))
  end)
end)
