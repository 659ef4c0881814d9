#!/bin/sh
# Installs jsforce (package.json here) into BUILD_DIR with npm — never into the source tree — and
# runs check.cjs against the `kam` binary. Exit 77 (ctest: skipped) with a message when node/npm
# are missing or the npm registry cannot be reached.
# Usage: run.sh SOURCE_DIR BUILD_DIR /path/to/kam
set -u
src=$1 build=$2 kam=$3
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIPPED: node and npm are needed for the jsforce check (apt install nodejs npm)"
  exit 77
fi
mkdir -p "$build" || exit 1
cp "$src/package.json" "$src/check.cjs" "$build/" || exit 1
if ! (cd "$build" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error >npm-install.log 2>&1); then
  echo "SKIPPED: npm install of jsforce failed (registry unreachable?); see $build/npm-install.log:"
  tail -5 "$build/npm-install.log"
  exit 77
fi
exec node "$build/check.cjs" "$kam"
