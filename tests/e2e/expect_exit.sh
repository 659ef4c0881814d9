#!/bin/sh
# Runs a command and checks its exit code and, optionally, that its output (stdout+stderr)
# matches a regular expression.  Usage: expect_exit.sh CODE 'REGEX|-' command args...
set -u
want="$1"; pattern="$2"; shift 2
out=$("$@" 2>&1 </dev/null)
got=$?
if [ "$got" != "$want" ]; then
  echo "expected exit $want, got $got from: $*" >&2
  echo "$out" >&2
  exit 1
fi
if [ "$pattern" != "-" ] && ! printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
  echo "output of '$*' does not match /$pattern/:" >&2
  echo "$out" >&2
  exit 1
fi
echo "exit $got as expected"
