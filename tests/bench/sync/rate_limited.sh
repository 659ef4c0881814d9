#!/usr/bin/env bash
# A full sync under the sandbox's rate limit (issue 13 item 4: the wall time within 5 % of
# calls ÷ allowed rate). Each run: a fresh `kam sandbox serve --rate-limit 190/10s` with the same
# seed, `kam provision` (not timed), then `kam --config C sync` timed, with C's
# `"rate": {"window_share": 0.97}`. The calls are the sandbox's own count of the sync's requests
# (GET /_sandbox/counters, reset after provisioning), so the ratio is judged from the CRM's side:
#
#   ratio = wall seconds ÷ (calls ÷ 19 per second)
#
# Prints one line per run and the median of the ratios. Exit 1 when a run got a 429 or failed.
#
#   tests/bench/sync/rate_limited.sh [BUILD_DIR] [COMPANIES] [RUNS]   (build/release 20000 5)
set -euo pipefail
build=${1:-build/release}
n=${2:-20000}
runs=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
kam=$build/bin/kam
rules=$root/packaging/examples/rules/key-accounts.json
[ -x "$kam" ] || { echo "no $kam: cmake --preset release && cmake --build --preset release" >&2; exit 2; }
export KAM_HUBSPOT_TOKEN=sandbox-token
work=$(mktemp -d)
# shellcheck source=../sandbox.sh
. "$here/../sandbox.sh"
trap 'stop_sandbox; rm -rf "$work"' EXIT

# Reads one number out of the counters' JSON: $1 the file, $2 a Python expression over `c`.
field() { python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

echo "machine: $(nproc) CPUs, $n companies, seed 42, --rate-limit 190/10s, window_share 0.97" >&2
ratios=()
for i in $(seq 1 "$runs"); do
  log=$work/sandbox-$i.log
  start_sandbox "$log" --accounts "$n" --seed 42 --rate-limit 190/10s
  cat >"$work/kam-$i.json" <<JSON
{"hubspot": {"base_url": "$url", "rate": {"window_share": 0.97}}, "rules": "$rules",
 "state": "$work/state-$i.db"}
JSON
  "$kam" --config "$work/kam-$i.json" provision >/dev/null
  curl -sf -XPOST "$url/_sandbox/counters/reset" >/dev/null
  load0=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(date +%s.%N)
  "$kam" --config "$work/kam-$i.json" sync >"$work/sync-$i.out" 2>&1 || { cat "$work/sync-$i.out" >&2; exit 1; }
  t1=$(date +%s.%N)
  load1=$(cut -d' ' -f1 /proc/loadavg)
  curl -sf "$url/_sandbox/counters" >"$work/counters-$i.json"
  stop_sandbox
  calls=$(field "$work/counters-$i.json" 'c["total"]')
  limited=$(field "$work/counters-$i.json" 'c.get("rate_limited", 0)')
  ratio=$(python3 -c "import sys; w=float(sys.argv[2])-float(sys.argv[1]); print(f'{w:.1f} {w/(int(sys.argv[3])/19):.3f}')" "$t0" "$t1" "$calls")
  echo "run $i: ${ratio% *} s wall, $calls calls, ratio ${ratio#* }, 429s $limited, load $load0 -> $load1"
  [ "$limited" = 0 ] || { echo "run $i got $limited answers 429" >&2; exit 1; }
  ratios+=("${ratio#* }")
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {printf "median ratio of %d runs: %s\n", NR, a[int((NR+1)/2)]}'
