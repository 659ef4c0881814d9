#!/usr/bin/env bash
# The Salesforce sync's figures (connector/salesforce/README.md, "Figures"): for each of RUNS
# runs, a fresh `kam sandbox serve --crm salesforce` with N accounts (seed 42) and a fresh state
# file, `kam provision` (untimed), then a first and a second `kam --json sync`, each under
# /usr/bin/time. Prints one line per sync (wall, accounts/s, CPU, peak RSS, calls / minimum,
# fields written, tasks created, phase_ms) and, with RUNS > 1, the medians.
#
#   tests/bench/sync/sf_figures.sh [BUILD_DIR] [ACCOUNTS] [RUNS] [FACTS]
#   (defaults: build/release 20000 3 changed; FACTS is the config's "facts": changed or all)
set -euo pipefail
build=${1:-build/release}
n=${2:-20000}
runs=${3:-3}
facts=${4:-changed}
root=$(cd "$(dirname "$0")/../../.." && pwd)
kam=$build/bin/kam
[ -x "$kam" ] || { echo "no $kam: cmake --build --preset release --target kam kam_addin" >&2; exit 2; }
export KAM_SALESFORCE_CLIENT_SECRET=sandbox-secret
tmp=$(mktemp -d)
server=
cleanup() {
  [ -z "$server" ] || { kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; } || true
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg); $n accounts, facts $facts, $runs runs" >&2
for r in $(seq 1 "$runs"); do
  run=$tmp/run$r
  mkdir -p "$run"
  : >"$run/sandbox.log"
  "$kam" sandbox serve --crm salesforce --port 0 --accounts "$n" --seed 42 >"$run/sandbox.log" 2>&1 &
  server=$!
  url=
  while [ -z "$url" ]; do
    kill -0 "$server" 2>/dev/null || { cat "$run/sandbox.log" >&2; exit 1; }
    url=$(grep -o -m1 'http://127\.0\.0\.1:[0-9]*' "$run/sandbox.log" || true)
    [ -n "$url" ] || sleep 0.2  # polling the sandbox's log for its address, not a synchronisation
  done
  cat >"$run/kam.json" <<JSON
{"crm": "salesforce",
 "salesforce": {"login_url": "$url", "auth": {"flow": "client_credentials", "client_id": "kam-bench"}},
 "facts": "$facts",
 "rules": "$root/packaging/examples/rules/key-accounts.json", "state": "$run/state.db"}
JSON
  "$kam" --config "$run/kam.json" provision >"$run/provision.out" 2>&1 || { cat "$run/provision.out" >&2; exit 1; }
  for s in first second; do
    /usr/bin/time -f '%e %U %S %M' -o "$run/$s.time" \
      "$kam" --config "$run/kam.json" --json sync >"$run/$s.json" 2>"$run/$s.err" ||
      { cat "$run/$s.err" >&2; exit 1; }
    node -e '
      const [json, time, n, s, r] = process.argv.slice(1);
      const o = JSON.parse(require("fs").readFileSync(json, "utf8"));
      const [wall, user, sys, rss] = require("fs").readFileSync(time, "utf8").trim().split("\n").pop().split(" ").map(Number);
      const c = o.counters || o;
      console.log(JSON.stringify({run: +r, sync: s, wall_s: wall, accounts_per_s: Math.round(n / wall),
        cpu_s: +(user + sys).toFixed(2), peak_rss_mib: +(rss / 1024).toFixed(1),
        calls: o.api_calls, minimum: o.minimum_calls, fields_written: c.fields_written,
        tasks_created: c.tasks_created, phase_ms: o.phase_ms}));
    ' "$run/$s.json" "$run/$s.time" "$n" "$s" "$r" | tee -a "$tmp/lines.jsonl"
  done
  kill "$server"; wait "$server" 2>/dev/null || true
  server=
done
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
  const med = (a) => { a = a.slice().sort((x, y) => x - y); return a[Math.floor(a.length / 2)]; };
  for (const s of ["first", "second"]) {
    const l = lines.filter((x) => x.sync === s);
    const f = (k) => med(l.map((x) => x[k]));
    console.log(`median ${s}: wall ${f("wall_s")} s, ${f("accounts_per_s")} accounts/s, CPU ${f("cpu_s")} s, ` +
      `peak RSS ${f("peak_rss_mib")} MiB, calls ${f("calls")} / minimum ${f("minimum")}, ` +
      `fields written ${f("fields_written")}, tasks ${f("tasks_created")}`);
  }
' "$tmp/lines.jsonl"
