#!/usr/bin/env bash
# The race against what users would write instead (issue 13 item 6): `kam sync` and a plain
# Node 20 script with the official @hubspot/api-client (tests/bench/peer/peer.cjs) do the same
# work with the same rule file, each against a fresh `kam sandbox serve` with the same seed and
# no rate limit. Prints wall time, API calls (the sandbox's counters) and peak RSS of each, the
# ratios, and checks that both wrote the same results (company kam_ fields except kam_scored_at,
# and the tasks created). The npm packages are installed into BUILD_DIR/bench-node (never vendored).
#
#   tests/bench/peer/race.sh [BUILD_DIR] [COMPANIES]     (defaults: build/release 5000)
# PEER_TASKS_TIER=score: the peer's tasks of capped accounts follow the tier by score.
# Provisioning (kam provision, for both) is not timed. Exit 1 when the written results differ.
set -euo pipefail
build=${1:-build/release}
n=${2:-5000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
kam=$build/bin/kam
rules=$root/packaging/examples/rules/key-accounts.json
node_dir=$build/bench-node
[ -x "$kam" ] || { echo "no $kam: cmake --preset release && cmake --build --preset release --target kam" >&2; exit 2; }
if [ ! -d "$node_dir/node_modules/@hubspot/api-client" ] || [ ! -d "$node_dir/node_modules/json-logic-js" ]; then
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-audit --no-fund --no-save --loglevel=error \
    @hubspot/api-client@13.5.0 json-logic-js@2.0.5 >&2
fi
export NODE_PATH=$node_dir/node_modules KAM_HUBSPOT_TOKEN=sandbox-token
work=$(mktemp -d)
# shellcheck source=../sandbox.sh
. "$here/../sandbox.sh"
trap 'stop_sandbox; rm -rf "$work"' EXIT

# $1 name, then the command; writes $work/$1.run.json with wall_s, peak_rss_kib, calls, by_route.
timed_run() {
  local name=$1
  shift
  node "$here/snapshot.cjs" "$url" "$work/$name.before.json"
  curl -sf -XPOST "$url/_sandbox/counters/reset" >/dev/null
  local t0 t1
  t0=$(date +%s.%N)
  echo "$t0" >"$work/$name.t0"
  /usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" ||
    { cat "$work/$name.err" >&2; exit 1; }
  t1=$(date +%s.%N)
  curl -sf "$url/_sandbox/counters" >"$work/$name.counters.json"
  node "$here/snapshot.cjs" "$url" "$work/$name.after.json"
  local rss cpu
  rss=$(grep 'Maximum resident set size' "$work/$name.time" | awk '{print $NF}')
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$work/$name.time")
  node -e '
    const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(JSON.stringify({ wall_s: +(process.argv[2] - process.argv[3]).toFixed(2),
      cpu_s: +process.argv[5], peak_rss_kib: +process.argv[4], calls: c.total, by_route: c.by_route }));
  ' "$work/$name.counters.json" "$t1" "$t0" "$rss" "$cpu" >"$work/$name.run.json"
  echo "$name: $(cat "$work/$name.run.json" | cut -c1-120)" >&2
}

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); $n companies, seed 42" >&2
# kam: a fresh sandbox, provision (untimed), one full sync.
start_sandbox "$work/sandbox-kam.log" --accounts "$n" --seed 42
cat >"$work/kam.json" <<JSON
{"hubspot": {"base_url": "$url"}, "rules": "$rules", "state": "$work/kam-state.db"}
JSON
"$kam" --config "$work/kam.json" provision >/dev/null
timed_run kam "$kam" --config "$work/kam.json" sync
stop_sandbox

# The peer: a fresh sandbox with the same seed, the same provisioning (untimed), then the script.
start_sandbox "$work/sandbox-peer.log" --accounts "$n" --seed 42
cat >"$work/peer-provision.json" <<JSON
{"hubspot": {"base_url": "$url"}, "rules": "$rules", "state": "$work/peer-provision-state.db"}
JSON
"$kam" --config "$work/peer-provision.json" provision >/dev/null
# The aggregates' time windows (12 months, 90 days, days since the last meeting) use kam's "now":
# the last millisecond of the UTC day kam's sync started in (plugin/src/engine/README.md, Facts).
now_ms=$(awk '{d = 86400000; t = int($1 * 1000); printf "%.0f", t - t % d + d - 1}' "$work/kam.t0")
timed_run peer node "$here/peer.cjs" --base-url "$url" --rules "$rules" --connections 4 --now-ms "$now_ms" \
  --tasks-tier "${PEER_TASKS_TIER:-final}"
stop_sandbox
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

node "$here/compare.cjs" "$work/kam.before.json" "$work/kam.after.json" "$work/kam.run.json" \
  "$work/peer.before.json" "$work/peer.after.json" "$work/peer.run.json"
