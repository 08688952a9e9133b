-- LuaRocks spec: `luarocks --lua-version 5.4 make` builds lira with CMake and
-- installs the `lira` module (lira/*.lua + lira/core.so) and the `lira` binary.
rockspec_format = "3.0"
package = "lira"
version = "0.1.0-1"
source = {
   url = "git+file:///dev/null", -- built from a checkout with `luarocks make`
}
description = {
   summary = "Resilient web-API integrations in Lua, with a C core",
   detailed = [[
lira is a Lua-scriptable runtime for web-API integrations: retries with
backoff and a retry budget, circuit breakers, client-side rate limiters,
idempotency keys, webhooks, durable state and telemetry, decided in C.
]],
   license = "MIT",
   labels = { "http", "resilience", "retry", "circuit-breaker", "rate-limit" },
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
-- System libraries (libcurl, OpenSSL 3, cJSON, libmicrohttpd) are found by
-- CMake through pkg-config; scripts/setup installs them on Debian.
build = {
   type = "cmake",
   variables = {
      CMAKE_BUILD_TYPE = "Release",
      CMAKE_INSTALL_PREFIX = "$(PREFIX)",
      LIRA_LUA_SHARE = "$(LUADIR)",
      LIRA_LUA_LIB = "$(LIBDIR)",
      LIRA_TESTS = "OFF",
   },
}
