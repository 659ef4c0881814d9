#!/usr/bin/env bash
# The long fuzz run (tests/fuzz/README.md, "The long run"). Gives each named target a budget of
# CPU time (user + system of the fuzzer process, default 3,600 s) in chunks of CHUNK seconds of
# wall time (default 600) at SCHED_IDLE priority (only CPU that nothing else wants), keeping the
# grown corpus in OUT/<target>/corpus between chunks. A target stops at its first finding (the
# crash-*, leak-*, timeout-* or oom-* file stays in OUT/<target>/) and the run goes on with the
# next target. Per target it records OUT/<target>/cpu (seconds so far), OUT/<target>/execs
# (executions so far), OUT/<target>/log (libFuzzer's output) and OUT/<target>/status
# (running, done, finding). Runs again continue where the files say.
#
# Usage: tests/fuzz/long_run.sh [-b BUILD] [-o OUT] [-c CPU_SECONDS] [-w CHUNK] TARGET...
#   BUILD: the fuzz preset's build folder (default build/fuzz); OUT default fuzz-work.
#   TARGET: jsonlogic, config, rules_loader, abi_request, http_response, hubspot_codec,
#   sandbox_request (the kam_fuzz_<target> binaries).
set -uo pipefail

build=build/fuzz
out=fuzz-work
budget=3600
chunk=600
while getopts "b:o:c:w:" opt; do
  case $opt in
    b) build=$OPTARG ;;
    o) out=$OPTARG ;;
    c) budget=$OPTARG ;;
    w) chunk=$OPTARG ;;
    *) echo "usage: $0 [-b BUILD] [-o OUT] [-c CPU_SECONDS] [-w CHUNK] TARGET..." >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "$0: name at least one target" >&2; exit 2; }
src=$(cd "$(dirname "$0")" && pwd)

idle=(chrt --idle 0)
"${idle[@]}" true 2>/dev/null || idle=(nice -n 19)

for t in "$@"; do
  bin=$build/bin/kam_fuzz_$t
  [ -x "$bin" ] || { echo "$0: $bin not built (cmake --build --preset fuzz)" >&2; exit 2; }
  dir=$out/$t
  mkdir -p "$dir/corpus"
  [ -f "$dir/cpu" ] || echo 0 > "$dir/cpu"
  [ -f "$dir/execs" ] || echo 0 > "$dir/execs"
  seeds=()
  for s in "$build/tests/fuzz/work/$t" "$src/corpus/$t" "$build/tests/fuzz/corpus/$t"; do
    [ -d "$s" ] && seeds+=("$s")
  done
  while :; do
    cpu=$(cat "$dir/cpu")
    if awk -v c="$cpu" -v b="$budget" 'BEGIN { exit !(c >= b) }'; then
      echo done > "$dir/status"
      break
    fi
    echo running > "$dir/status"
    echo "== $(date -u +%FT%TZ) chunk of ${chunk} s, ${cpu} CPU-s so far" >> "$dir/log"
    /usr/bin/time -f '%U %S' -o "$dir/time" "${idle[@]}" "$bin" -max_total_time="$chunk" \
      -timeout=300 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/" \
      "$dir/corpus" "${seeds[@]}" >> "$dir/log" 2>&1
    rc=$?
    # /usr/bin/time writes "Command exited with non-zero status N" first when rc != 0.
    used=$(tail -n 1 "$dir/time" | awk '{print $1 + $2}')
    awk -v c="$cpu" -v u="${used:-0}" 'BEGIN { printf "%.1f\n", c + u }' > "$dir/cpu"
    runs=$(grep -a 'stat::number_of_executed_units' "$dir/log" | tail -n 1 | awk '{print $2}')
    awk -v e="$(cat "$dir/execs")" -v r="${runs:-0}" 'BEGIN { printf "%d\n", e + r }' > "$dir/execs"
    if [ $rc -ne 0 ]; then
      echo finding > "$dir/status"
      echo "== exit $rc: see $dir/log and the crash file in $dir/" >> "$dir/log"
      break
    fi
  done
done
