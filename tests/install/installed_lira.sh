#!/usr/bin/env bash
# An installed `lira` finds its own Lua modules relative to its prefix, with
# no LUA_PATH/LUA_CPATH set and from any working directory: a module that
# exists only in the installed tree must be found by an integration.
set -euo pipefail
build=${1:?usage: installed_lira.sh BUILD_DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
# Only the installed tree has this module (not the source tree).
echo 'return "from the prefix"' > "$work/prefix/share/lua/5.4/lira/prefix_probe.lua"
mkdir -p "$work/app"
cat > "$work/app/probe.lua" <<'LUA'
local lira = require "lira"
local where = require "lira.prefix_probe"
assert(where == "from the prefix", where)
return lira.integration { name = "probe", every = 60, sync = function() end }
LUA
cd /
out=$(env -u LUA_PATH -u LUA_CPATH "$work/prefix/bin/lira" check "$work/app/probe.lua" 2>&1) || {
  echo "installed lira could not load its modules from its prefix:"; echo "$out"; exit 1; }
echo "$out"
echo "installed lira: modules found relative to $work/prefix"
