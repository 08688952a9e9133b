#!/usr/bin/env bash
# runtime_bench.sh — `lira run`'s start-up, memory and reload figures
# (bench/README.md "Runtime", docs/runtime.md "Figures").
#
#   bench/runtime_bench.sh [LIRA_BIN] [N]      (defaults: build/lira, 1000)
#
# Writes N small integrations (a client, `every = 3600`, an empty sync) into
# a temporary folder, starts `lira run --listen 127.0.0.1:0` on it and times
# until /readyz answers 200; reads VmRSS from /proc, and compares it with a
# run of a single integration: (RSS(N) - RSS(1)) / (N - 1) is the cost of
# one more idle integration. Then it saves one file atomically and times
# until the log says "integration: reloaded" (reload latency, the median of
# 5; polling /admin instead would measure /admin: with 1 000 integrations
# each answer costs the loop ~50 ms). Needs curl and bc.
set -euo pipefail
BIN=${1:-build/lira}
N=${2:-1000}
BIN=$(readlink -f "$BIN")
TMP=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

now() { date +%s.%N; }

integ() {   # integ NAME TAG
  cat <<EOF
local lira = require "lira"
local api = lira.client { name = "api_$1", base_url = lira.config("API_URL"),
                          version = { header = "Api-Version", value = "1" }, fallback = false }
return lira.integration { name = "$1", every = 3600,
  sync = function(ctx) local _ = api; return "$2" end }
EOF
}

gen() {   # gen DIR COUNT
  mkdir -p "$1"
  for i in $(seq 1 "$2"); do integ "i$i" v1 > "$1/i$i.lua"; done
}

start() {   # start DIR: sets PID, URL and STARTUP (seconds until /readyz is 200)
  local out="$TMP/out.$RANDOM" t0 url=""
  t0=$(now)
  API_URL=http://127.0.0.1:9 "$BIN" run --state "$TMP/state.$RANDOM.db" --log-level info \
    --log-format json --listen 127.0.0.1:0 "$1" > "$out" 2> "$TMP/err" &
  PID=$!
  while [ -z "$url" ]; do
    url=$(grep -o 'http://[0-9.]*:[0-9]*' "$out" 2>/dev/null || true)
    kill -0 "$PID" 2>/dev/null || { cat "$TMP/err" >&2; exit 1; }
    sleep 0.005
  done
  URL=$url
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" = 200 ]; do sleep 0.005; done
  STARTUP=$(echo "$(now) - $t0" | bc -l)
}

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$PID/status"; }

stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }

gen "$TMP/one" 1
start "$TMP/one"
sleep 0.5
RSS1=$(rss_kb)
stop

gen "$TMP/many" "$N"
start "$TMP/many"
sleep 1
RSSN=$(rss_kb)

LAT=()
for g in 2 3 4 5 6; do
  integ i1 "v$g" > "$TMP/many/.save"
  t0=$(now)
  mv "$TMP/many/.save" "$TMP/many/i1.lua"
  until [ "$(grep -c 'integration: reloaded' "$TMP/err")" -ge $((g - 1)) ]; do
    sleep 0.002
  done
  LAT+=("$(echo "($(now) - $t0) * 1000" | bc -l)")
done
stop
MED=$(printf '%s\n' "${LAT[@]}" | sort -n | sed -n 3p)

printf 'integrations        %d\n' "$N"
printf 'start-up            %.2f s (until /readyz is 200)\n' "$STARTUP"
printf 'RSS, 1 integration  %d KB\n' "$RSS1"
printf 'RSS, %d            %d KB\n' "$N" "$RSSN"
printf 'RSS per integration %.0f KB\n' "$(echo "($RSSN - $RSS1) / ($N - 1)" | bc -l)"
printf 'reload latency      %.1f ms (median of 5, atomic save -> new version logged)\n' "$MED"
