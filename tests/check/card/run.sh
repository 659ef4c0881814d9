#!/bin/sh
# The card app's view logic (packaging/hubspot-app/src/app/cards/cardView.mjs) against cards the
# C++ side produces now: kam_card_fixtures writes them into a temporary folder, node --test reads
# them. Exit 77 (skipped) only when node is missing.
#   usage: run.sh FIXTURE_TOOL APP_CARDS_DIR
set -eu
tool=$1
cards=$2
if ! command -v node >/dev/null 2>&1; then
  echo "SKIPPED: node is not installed; the card view test needs Node.js >= 18 (apt-get install nodejs)"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$tool" "$dir"
KAM_CARD_FIXTURES="$dir" node --test "$cards/test/cardView.test.mjs"
