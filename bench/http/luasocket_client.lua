-- LuaSocket peer for scripts/bench_http (Debian lua-socket + lua-cjson).
--
-- The same N GETs through socket.http.request with the body decoded by
-- cjson, as a LuaSocket user would write them. http.request opens a new
-- connection for every request and sends "Connection: close" (LuaSocket has
-- no keep-alive and no concurrency of its own: that needs copas), so this
-- peer runs at c=1 only and pays a TCP connect per request — measured as is.
--
-- CPU is os.clock() (process CPU time) around the loop only; peak RSS is
-- VmHWM. Prints one line:
--   BENCH client=luasocket c=1 n=<n> ok=<ok> wall=<s> cpu=<s> rss_kb=<kb>
--
-- usage: lua5.4 luasocket_client.lua <url> <n>
local http = require "socket.http"
local socket = require "socket"
local cjson = require "cjson"

local url, n = arg[1], tonumber(arg[2])
assert(url and n, "usage: luasocket_client.lua <url> <n>")

local function peak_rss_kb()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)")) or -1
end

local ok = 0
assert(http.request(url)) -- warm-up
local cpu0, wall0 = os.clock(), socket.gettime()
for _ = 1, n do
  local body, code = http.request(url)
  if body then
    cjson.decode(body)
    if code >= 200 and code < 300 then ok = ok + 1 end
  end
end
local wall, cpu = socket.gettime() - wall0, os.clock() - cpu0
print(string.format("BENCH client=luasocket c=1 n=%d ok=%d wall=%.6f cpu=%.6f rss_kb=%d",
                    n, ok, wall, cpu, peak_rss_kb()))
