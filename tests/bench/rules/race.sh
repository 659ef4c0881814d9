#!/usr/bin/env bash
# The rule benchmark side by side with the JavaScript engines (shared/bench/README.md), in one
# run on the same machine: RUNS rounds, each running in turn the C++ evaluator (rules_bench, one
# run per process), json-logic-engine's compiled mode (`build`) and json-logic-js (`apply`).
# The JavaScript packages are installed with npm into BUILD_DIR/bench-node (pinned versions, never
# vendored). Prints every run, the medians (wall clock and per CPU second), the ratios, and checks
# that every engine produced the same digest.
#
#   tests/bench/rules/race.sh [BUILD_DIR] [N] [RUNS] [JS_N]
#     BUILD_DIR  a release build with rules_bench (default build/release)
#     N          accounts for rules_bench and json-logic-engine (default 1000000, digest 2fa4ad7d)
#     RUNS       rounds (default 5)
#     JS_N       accounts for json-logic-js, ~50x slower (default 100000, digest 2d56d936)
set -euo pipefail
build=${1:-build/release}
n=${2:-1000000}
runs=${3:-5}
js_n=${4:-100000}
here=$(cd "$(dirname "$0")" && pwd)
cached=$(sed -n 's/^KAM_SHARED_DIR:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
shared=${KAM_SHARED_DIR:-${cached:-$(cd "$here/../../.." && pwd)/../shared}}
rules=$shared/bench/kam_rules.json
bench=$build/bin/rules_bench
node_dir=$build/bench-node
[ -x "$bench" ] || { echo "no $bench: cmake --preset release && cmake --build --preset release --target rules_bench" >&2; exit 2; }
[ -f "$rules" ] || { echo "no $rules (set KAM_SHARED_DIR)" >&2; exit 2; }
if [ ! -d "$node_dir/node_modules/json-logic-engine" ] || [ ! -d "$node_dir/node_modules/json-logic-js" ]; then
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-audit --no-fund --no-save --loglevel=error \
    json-logic-js@2.0.5 json-logic-engine@5.0.7 >&2
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg), node $(node --version)" >&2
for r in $(seq 1 "$runs"); do
  "$bench" --rules "$rules" --generate "$n" --runs 1 | head -1 |
    sed 's/^{/{"engine":"kam (C++)",/' | tee -a "$out"
  NODE_PATH="$node_dir/node_modules" node "$here/js/rules_bench.cjs" --engine json-logic-engine-build \
    --generate "$n" --rules "$rules" | tee -a "$out"
  NODE_PATH="$node_dir/node_modules" node "$here/js/rules_bench.cjs" --engine json-logic-js \
    --generate "$js_n" --rules "$rules" | tee -a "$out"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const by = {};
for (const l of lines) (by[l.engine] = by[l.engine] || []).push(l);
const expected = { 1000: "02818627", 100000: "2d56d936", 1000000: "2fa4ad7d" };
let ok = true;
const m = {};
for (const [engine, ls] of Object.entries(by)) {
  const digests = [...new Set(ls.map((l) => l.digest))];
  const want = expected[ls[0].n];
  if (digests.length !== 1 || (want && digests[0] !== want)) ok = false;
  m[engine] = { wall: med(ls.map((l) => l.accounts_per_s)), cpu: med(ls.map((l) => l.accounts_per_cpu_s)) };
  console.log(`${engine.padEnd(24)} n=${ls[0].n} digest ${digests.join(",")}${want ? (digests[0] === want ? " (expected)" : " (EXPECTED " + want + ")") : ""}: median of ${ls.length}: ${Math.round(m[engine].wall).toLocaleString("en")} accounts/s wall, ${Math.round(m[engine].cpu).toLocaleString("en")} per CPU second`);
}
const kam = m["kam (C++)"];
for (const other of ["json-logic-engine-build", "json-logic-js"]) {
  if (!m[other] || !kam) continue;
  console.log(`kam / ${other}: ${(kam.wall / m[other].wall).toFixed(1)}x wall, ${(kam.cpu / m[other].cpu).toFixed(1)}x CPU`);
}
if (!ok) { console.log("DIGEST MISMATCH"); process.exit(1); }
' "$out"
