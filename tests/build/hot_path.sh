#!/usr/bin/env bash
# src/hot_path.txt names functions that exist, and the build really lays them
# out side by side (CMakeLists.txt, "hot-path layout").
#
#   hot_path.sh SRC_DIR on|off BINARY...
#
# 1. Every name in the list is a function defined in src/ (a rename that
#    leaves the list behind fails here, at any optimisation level: the check
#    reads the sources, not a binary where the function may be inlined).
# 2. With the layout on, each BINARY has a .text.lira_hot section, and every
#    listed function with a symbol of its own lies inside it; at least 50 of
#    them do (built with LTO, gcc inlines more than half of them into others).
set -euo pipefail
src=${1:?usage: hot_path.sh SRC_DIR on|off BINARY...}
layout=${2:?usage: hot_path.sh SRC_DIR on|off BINARY...}
shift 2
list="$src/src/hot_path.txt"
names=$(grep -E '^[A-Za-z_][A-Za-z0-9_]*$' "$list")
[ "$(echo "$names" | wc -l)" -ge 100 ] || { echo "hot_path: $list names under 100 functions"; exit 1; }

missing=0
for fn in $names; do
  # A definition: the name then "(" on a line that starts a declaration and
  # does not end in ";" (a prototype does).
  if ! grep -rqE --include='*.c' "^[A-Za-z][^;(]*[ *]$fn\(.*[^;[:space:]][[:space:]]*$" "$src/src"; then
    echo "hot_path: $fn is in src/hot_path.txt but no function of src/ has that name"
    missing=$((missing + 1))
  fi
done
[ "$missing" = 0 ] || { echo "hot_path: rerun scripts/hot-path"; exit 1; }
echo "hot_path: the $(echo "$names" | wc -l) listed functions exist in src/"

if [ "$layout" != on ]; then
  echo "hot_path: the layout is off in this build; nothing more to check"
  exit 0
fi
for bin in "$@"; do
  start="" size=""
  read -r start size < <(readelf -SW "$bin" |
    awk '$2 == ".text.lira_hot" { print $4, $6 } $3 == ".text.lira_hot" { print $5, $7 }') || true
  [ -n "${start:-}" ] || { echo "hot_path: $bin has no .text.lira_hot section"; exit 1; }
  lo=$((16#$start)) hi=$((16#$start + 16#$size))
  inside=0 outside=""
  while read -r addr name; do
    a=$((16#$addr))
    if [ "$a" -ge "$lo" ] && [ "$a" -lt "$hi" ]; then
      inside=$((inside + 1))
    else
      outside="$outside $name"
    fi
  done < <(nm --defined-only "$bin" | awk -v list="$list" '
             BEGIN { while ((getline l < list) > 0) if (l ~ /^[A-Za-z_]/) hot[l] = 1 }
             $2 ~ /^[tT]$/ { base = $3; sub(/\..*/, "", base); if (base in hot) print $1, $3 }')
  [ -z "$outside" ] || { echo "hot_path: $bin: outside .text.lira_hot:$outside"; exit 1; }
  [ "$inside" -ge 50 ] || { echo "hot_path: $bin: only $inside listed functions in .text.lira_hot"; exit 1; }
  echo "hot_path: $bin: $inside listed functions in .text.lira_hot ($((16#$size)) bytes)"
done
