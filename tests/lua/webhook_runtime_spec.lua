-- Receiving webhooks in `lira run` (docs/webhooks.md, "Receiving"), end to
-- end over real HTTP: signed deliveries from `lira sandbox send-webhook` and
-- curl, rejects that store nothing, duplicates, limits, retries, dead
-- letters and the CLI, and the crash test (kill -9 during handling, every
-- acknowledged event handled after the restart). Every wait polls with a
-- deadline.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path
local runtime = require "helpers.runtime"
local lira = require "lira"

local STD = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
local STRIPE = "whsec_test_secret"
local GH = "It's a Secret to Everybody"
local HMAC = "hmac-secret"

local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
-- curl and openssl run without the ASan runtime a sanitized build preloads
-- (curl hangs under it).
local CURL, OPENSSL = "env -u LD_PRELOAD curl", "env -u LD_PRELOAD openssl"

local function lines(path)
  local t = {}
  local f = io.open(path, "rb")
  if not f then return t end
  for l in f:lines() do t[#t + 1] = l end
  f:close()
  return t
end

local function count_of(path, pat)
  local n = 0
  for _, l in ipairs(lines(path)) do if l:find(pat, 1, true) then n = n + 1 end end
  return n
end

-- The integration under test: each handler appends "route id attempt".
local function hooks_file()
  return [[
local lira = require "lira"
local OUT = os.getenv("HOOK_OUT")
local function note(ev)
  local f = assert(io.open(OUT, "a"))
  f:write(ev.route, " ", ev.id, " ", ev.attempt, "\n")
  f:close()
end
return lira.integration { name = "hooks",
  webhooks = {
    ["/h/std"] = { verify = { scheme = "standard", secret = "]] .. STD .. [[" }, handle = note },
    ["/h/stripe"] = { verify = { scheme = "stripe", secret = { "whsec_new", "]] .. STRIPE ..
      [[" } }, handle = function(ev) assert(ev.json.id == ev.id) note(ev) end },
    ["/h/gh"] = { verify = { scheme = "github", secret = "]] .. GH .. [[" }, handle = note },
    ["/h/hmac"] = { verify = { scheme = "hmac", secret = "]] .. HMAC .. [[", header = "X-Sig",
                                prefix = "sha256=" },
                    id = "header:X-Id", max_body = 4096, handle = note },
    ["/h/flaky"] = { verify = false, id = "json:data.id", handle = function(ev)
      note(ev)
      if ev.attempt < 3 then error("not yet") end
    end },
    ["/h/dead"] = { verify = false, id = "json:id", max_attempts = 2, handle = function(ev)
      note(ev)
      if not io.open(OUT .. ".fixed") then error("broken downstream") end
    end },
  } }
]]
end

local function send(p, scheme, secret, id, extra)
  local args = { "sandbox", "send-webhook", "--to", p.url .. "/h/" ..
    (scheme == "standard" and "std" or scheme == "github" and "gh" or scheme),
    "--scheme", scheme, "--secret", secret, "--id", id, "--show-response" }
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  local _, out = runtime.exec(args)
  return tonumber(out:match("HTTP (%d+)")), out
end

local function curl(url, body, headers)
  local h = {}
  for k, v in pairs(headers or {}) do h[#h + 1] = "-H " .. sh(k .. ": " .. v) end
  local f = io.popen((CURL .. " -s -o /dev/null -w '%%{http_code}' -X POST %s --data-binary @- %s <<'EOF'\n%s\nEOF")
    :format(table.concat(h, " "), sh(url), body))
  local code = tonumber(f:read("a"))
  f:close()
  return code
end

local function hmac_hex(secret, body)
  local f = io.popen(("printf '%%s\\n' %s | " .. OPENSSL .. " dgst -sha256 -hmac %s -hex"):format(
    sh(body), sh(secret)))
  local out = f:read("a")
  f:close()
  return out:match("(%x+)%s*$")
end

local function admin_route(p, route)
  local st, body = p:get("/admin/webhooks")
  assert(st == 200, body)
  for _, r in ipairs(lira.json.decode(body).routes) do
    if r.route == route then return r end
  end
end

-- A route whose handler appends each id to HOOK_OUT, slowly.
local SLOW = [[
local lira = require "lira"
local OUT = os.getenv("HOOK_OUT")
return lira.integration { name = "slow", webhooks = {
  ["/d"] = { verify = false, id = "json:id", handle = function(ev)
    local f = assert(io.open(OUT, "a")); f:write(ev.id, "\n"); f:close()
    lira.sleep(0.001)
  end } } }
]]

-- POST events e1..eN to p's /d from curl in the background, `par` at once;
-- each answer is written to `acks` as "CODE URL"; `flag` appears when done.
local function flood(p, dir, n, par, acks, flag)
  local cfg = dir .. "/curl.cfg"
  local f = assert(io.open(cfg, "w"))
  for i = 1, n do
    f:write(('url = "%s/d?n=%d"\nrequest = "POST"\ndata = "{\\"id\\":\\"e%d\\"}"\n' ..
             'output = "/dev/null"\nwrite-out = "%%{http_code} %%{url}\\n"\nnext\n'):format(
               p.url, i, i))
  end
  f:close()
  os.execute(("(" .. CURL .. " -s --parallel --parallel-max %d -K %s > %s; touch %s) >/dev/null 2>&1 &")
    :format(par, sh(cfg), sh(acks), sh(flag)))
end

describe("lira run: webhooks", function()
  local d, p, out
  before_each(function()
    d = runtime.dir { ["hooks.lua"] = hooks_file() }
    out = d.path .. "/out.txt"
  end)
  after_each(function()
    if p then p:stop() end
    d:rm()
    p = nil
  end)

  it("verifies each scheme, stores, acknowledges and handles once; rejects store nothing",
     function()
    p = runtime.start { d.path, env = { HOOK_OUT = out } }
    p:wait(function() return admin_route(p, "/h/std") end, 10, "the routes")
    assert.equals(202, (send(p, "standard", STD, "std-1")))
    assert.equals(202, (send(p, "stripe", STRIPE, "evt_1")))
    assert.equals(202, (send(p, "github", GH, "gh-1")))
    local body = '{"n":1}'
    assert.equals(202, curl(p.url .. "/h/hmac", body,
      { ["X-Id"] = "hm-1", ["X-Sig"] = "sha256=" .. hmac_hex(HMAC, body) }))
    -- duplicates: 200, never a second delivery
    assert.equals(200, (send(p, "standard", STD, "std-1")))
    assert.equals(200, (send(p, "github", GH, "gh-1")))
    -- rejects: 401 and nothing stored
    assert.equals(401, (send(p, "standard", STD, "std-t", { "--tamper" })))
    assert.equals(401, (send(p, "stripe", "whsec_wrong", "evt_w")))
    assert.equals(401, (send(p, "standard", STD, "std-old", { "--timestamp",
      tostring(os.time() - 3600) })))
    assert.equals(401, curl(p.url .. "/h/gh", "{}", { ["X-GitHub-Delivery"] = "gh-x" }))
    assert.equals(401, curl(p.url .. "/h/hmac", body,
      { ["X-Id"] = "hm-2", ["X-Sig"] = "sha256=" .. hmac_hex("wrong", body) }))
    -- limits: body size, method, route, missing id
    local big = string.rep("x", 5000)
    assert.equals(413, curl(p.url .. "/h/hmac", big,
      { ["X-Id"] = "hm-3", ["X-Sig"] = "sha256=" .. hmac_hex(HMAC, big) }))
    assert.equals(404, curl(p.url .. "/h/nope", "{}"))
    assert.equals(400, curl(p.url .. "/h/flaky", '{"data":{}}'))
    local st = p:get("/h/std")
    assert.equals(405, st)
    p:wait(function()
      return count_of(out, "/h/std std-1") == 1 and count_of(out, "/h/stripe evt_1") == 1 and
             count_of(out, "/h/gh gh-1") == 1 and count_of(out, "/h/hmac hm-1") == 1
    end, 10, "the four deliveries")
    for _, r in ipairs { "/h/std", "/h/stripe", "/h/gh", "/h/hmac" } do
      local a = p:wait(function()
        local a = admin_route(p, r)
        return a.done == 1 and a
      end, 10, "done in " .. r)
      assert.equals(0, a.pending)
      assert.equals(0, a.dead)
    end
    assert.equals(4, #lines(out))
    local std = admin_route(p, "/h/std")
    assert.equals(1, std.received.accepted)
    assert.equals(1, std.received.duplicate)
    assert.equals(1, std.received.bad_signature)
    assert.equals(1, std.received.expired)
    assert.equals(1, admin_route(p, "/h/gh").received.missing_header)
    assert.equals(1, admin_route(p, "/h/hmac").received.too_large)
    local metrics = select(2, p:get("/metrics"))
    p:wait(function()
      metrics = select(2, p:get("/metrics"))
      return metrics:find('lira_webhook_received_total{route="/h/std",result="expired"} 1', 1,
                          true)
    end, 5, "the metrics")
    assert.matches('lira_webhook_attempts_total{route="/h/std",result="ok"} 1', metrics, 1, true)
  end)

  it("retries a failing handler with backoff, dead-letters, and replays from the CLI",
     function()
    p = runtime.start { d.path, env = { HOOK_OUT = out } }
    p:wait(function() return admin_route(p, "/h/flaky") end, 10, "the routes")
    assert.equals(202, curl(p.url .. "/h/flaky", '{"data":{"id":"f-1"}}'))
    assert.equals(202, curl(p.url .. "/h/flaky", '{"data":{"id":"f-2"}}'))
    assert.equals(202, curl(p.url .. "/h/dead", '{"id":"d-1"}'))
    p:wait(function() return admin_route(p, "/h/flaky").done == 2 end, 15, "flaky done")
    local flaky, at = {}, {}        -- f-1's lines; the line number of each line
    for i, l in ipairs(lines(out)) do
      if l:find("f-1", 1, true) then flaky[#flaky + 1] = l end
      at[l] = at[l] or i
    end
    assert.same({ "/h/flaky f-1 1", "/h/flaky f-1 2", "/h/flaky f-1 3" }, flaky)
    -- f-1 waiting out its backoff (0.5 s, then 1 s) does not hold f-2 back
    assert.is_true(at["/h/flaky f-2 1"] < at["/h/flaky f-1 3"])
    p:wait(function() return admin_route(p, "/h/dead").dead == 1 end, 15, "dead-lettered")
    assert.equals(2, count_of(out, "/h/dead d-1"))
    local code, text = runtime.exec { "webhooks", "list", "--dead", "--state", p.state }
    assert.equals(0, code, text)
    assert.matches("dead\t/h/dead\td-1\t2\t", text, 1, true)
    assert.matches("broken downstream", text, 1, true)
    io.open(out .. ".fixed", "w"):close()
    code, text = runtime.exec { "webhooks", "replay", "--dead", "--state", p.state }
    assert.equals(0, code, text)
    assert.matches("replayed 1 event", text, 1, true)
    p:wait(function()
      local a = admin_route(p, "/h/dead")
      return a.done == 1 and a.dead == 0
    end, 10, "the replayed event handled")
    assert.equals(3, count_of(out, "/h/dead d-1"))
    local a = admin_route(p, "/h/dead")
    assert.equals("ok", a.last_events[1].result)
    assert.equals("dead", a.last_events[2].result)
  end)

  it("a route belongs to one integration; a reload swaps the verify config", function()
    local function other(secret)
      return ([[
local lira = require "lira"
return lira.integration { name = "other", webhooks = {
  ["/o"] = { verify = { scheme = "github", secret = %q }, handle = function() end } } }
]]):format(secret)
    end
    d:write("other.lua", other("first"))
    d:write("thief.lua", [[
local lira = require "lira"
return lira.integration { name = "thief", webhooks = {
  ["/h/std"] = { verify = false, id = "json:id", handle = function() end } } }
]])
    p = runtime.start { d.path, env = { HOOK_OUT = out } }
    local doc = p:wait(function()
      local doc = p:admin()
      return #doc.integrations == 2 and doc
    end, 10, "two integrations loaded")
    assert.equals(1, #doc.errors)
    assert.matches('the route already belongs to the integration', doc.errors[1].error, 1, true)
    assert.equals("hooks", admin_route(p, "/h/std").integration)
    local gh = function(secret, id)
      local _, o = runtime.exec { "sandbox", "send-webhook", "--to", p.url .. "/o", "--scheme",
                                  "github", "--secret", secret, "--id", id, "--show-response" }
      return tonumber(o:match("HTTP (%d+)"))
    end
    assert.equals(202, gh("first", "o-1"))
    d:save("other.lua", other("second"))
    p:wait(function() return gh("second", "o-2") == 202 end, 10, "the new secret")
    assert.equals(401, gh("first", "o-3"))
  end)

  it("loses no acknowledged event across kill -9 and handles each once (but the one in flight)",
     function()
    local N = 1000
    d:save("slow.lua", SLOW)
    os.remove(d.path .. "/hooks.lua")
    p = runtime.start { d.path, env = { HOOK_OUT = out } }
    p:wait(function() return admin_route(p, "/d") end, 10, "the route")
    local acks = d.path .. "/acks.txt"
    local done_flag = d.path .. "/curl.done"
    flood(p, d.path, N, 16, acks, done_flag)
    math.randomseed(os.time())
    local kill_at = math.random(100, 600)
    p:wait(function() return #lines(out) >= kill_at end, 60, "handled " .. kill_at)
    p:signal("KILL")
    p:wait_exit(10)
    runtime.wait_for(function() return io.open(done_flag) end, 60, "curl to finish")
    local acked = {}
    local nacked = 0
    for _, l in ipairs(lines(acks)) do
      local code, n = l:match("^(%d+) .-n=(%d+)")
      if code == "202" or code == "200" then
        acked["e" .. n] = true
        nacked = nacked + 1
      end
    end
    assert.is_true(nacked >= kill_at, "acks " .. nacked)
    local p2 = runtime.start { d.path, env = { HOOK_OUT = out }, args = { "--state", p.state } }
    finally(function() p2:stop() end)
    local seen
    p2:wait(function()
      seen = {}
      for _, id in ipairs(lines(out)) do seen[id] = (seen[id] or 0) + 1 end
      for id in pairs(acked) do if not seen[id] then return false end end
      return true
    end, 60, "every acknowledged event handled")
    local twice = 0
    for id, n in pairs(seen) do
      assert.is_true(n <= 2, id .. " handled " .. n .. " times")
      if n == 2 then twice = twice + 1 end
    end
    assert.is_true(twice <= 1, twice .. " events handled twice")
    io.stderr:write(("crash test: killed after %d handled; %d acknowledged, %d handled twice\n")
      :format(kill_at, nacked, twice))
    local a = p2:wait(function()
      local a = admin_route(p2, "/d")
      return a.pending == 0 and a
    end, 30, "nothing pending")
    assert.is_true(a.done >= nacked)
  end)

  -- The listener parks requests (suspended connections) while their event
  -- is committed: a stop must answer or refuse every one of them, keep
  -- every acknowledged event, and exit cleanly.
  it("SIGTERM during a flood: exits 0, every answer is clean, every ack is kept", function()
    d:save("slow.lua", SLOW)
    os.remove(d.path .. "/hooks.lua")
    p = runtime.start { d.path, env = { HOOK_OUT = out } }
    p:wait(function() return admin_route(p, "/d") end, 10, "the route")
    local acks, done_flag = d.path .. "/acks.txt", d.path .. "/curl.done"
    flood(p, d.path, 4000, 48, acks, done_flag)
    p:wait(function()
      local a = admin_route(p, "/d")
      return a.pending + a.done >= 200
    end, 30, "200 stored")
    p:signal("TERM")
    assert.equals(0, p:wait_exit(30))
    runtime.wait_for(function() return io.open(done_flag) end, 60, "curl to finish")
    local acked, n, codes = {}, 0, {}
    for _, l in ipairs(lines(acks)) do
      local code, i = l:match("^(%d+) .-n=(%d+)")
      codes[code] = (codes[code] or 0) + 1
      -- 503: refused while stopping; 000: the listener was gone
      assert.is_truthy(code == "202" or code == "200" or code == "503" or code == "000", l)
      if code == "202" or code == "200" then
        acked["e" .. i] = true
        n = n + 1
      end
    end
    assert.is_true(n >= 200, "acks " .. n)
    local p2 = runtime.start { d.path, env = { HOOK_OUT = out }, args = { "--state", p.state } }
    finally(function() p2:stop() end)
    p2:wait(function()
      local seen = {}
      for _, id in ipairs(lines(out)) do seen[id] = true end
      for id in pairs(acked) do if not seen[id] then return false end end
      return true
    end, 60, "every acknowledged event handled")
    io.stderr:write(("SIGTERM test: %d acknowledged; answers %s\n"):format(n,
      lira.json.encode(codes)))
  end)
end)
