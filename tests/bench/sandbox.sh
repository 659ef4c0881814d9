# Sourced by the bench scripts (tests/bench/peer/race.sh, tests/bench/sync/rate_limited.sh):
# a `kam sandbox serve` child on a free loopback port. Needs $kam (the kam binary).
#   start_sandbox LOG [ARGS...]   starts `kam sandbox serve --port 0 ARGS...`, its output in LOG,
#                                 and sets $url once it listens (up to 120 s; exits on failure)
#   stop_sandbox                  stops it (also safe when none runs)
sandbox_pid=
stop_sandbox() {
  if [ -n "$sandbox_pid" ]; then kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; fi
  sandbox_pid=
}

start_sandbox() {
  local log=$1
  shift
  "$kam" sandbox serve --port 0 "$@" >"$log" 2>&1 &
  sandbox_pid=$!
  url=
  # The sandbox prints its address once it listens: wait for that line, not for a time.
  for _ in $(seq 1 600); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -1 || true)
    [ -n "$url" ] && break
    kill -0 "$sandbox_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.2
  done
  [ -n "$url" ] || { echo "the sandbox did not start" >&2; exit 1; }
}
