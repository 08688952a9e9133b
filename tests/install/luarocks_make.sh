#!/usr/bin/env bash
# `luarocks make` builds lira from a copy of this checkout into a private
# tree, and a plain lua5.4 loads the result from that tree alone.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Copy the sources (not build dirs) so the build leaves the checkout untouched.
tar -C "$src" --exclude='./build*' --exclude='./.git' -cf - . | tar -C "$work" -xf -
mkdir -p "$work/src-tree"
cd "$work"
luarocks --lua-version 5.4 make --tree "$work/tree" lira-*.rockspec >"$work/make.log" 2>&1 ||
  { cat "$work/make.log"; exit 1; }

test -f "$work/tree/share/lua/5.4/lira/init.lua"
test -f "$work/tree/lib/lua/5.4/lira/core.so"
got=$(cd / && LUA_PATH="$work/tree/share/lua/5.4/?.lua;$work/tree/share/lua/5.4/?/init.lua" \
      LUA_CPATH="$work/tree/lib/lua/5.4/?.so" lua5.4 -e 'io.write(require("lira").version)')
want=$(sed -n 's/^project(lira VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
if [ "$got" != "$want" ]; then
  echo "luarocks-installed lira reports version '$got', expected '$want'"
  exit 1
fi
echo "luarocks make: lira $got installed and loaded from a private tree"
