#!/bin/sh
# kam jsonlogic apply --ndjson: one output line per input line, in order, never stopping on a
# bad line. Usage: ndjson_test.sh KAM
set -eu
out=$(printf '%s\n' \
  '{"rule":{"+":[1,{"var":"a"}]},"data":{"a":"2"}}' \
  '{"rule":{"throw":"boom"},"data":{}}' \
  '{"rule": not json' \
  '{"rule":{"missing":["a","b"]},"data":{"a":"","b":null}}' | "$1" jsonlogic apply --ndjson)
expected='{"result":3}
{"error":{"message":"boom","type":"boom"}}
ERROR-LINE
{"result":["a","b"]}'
lines=$(printf '%s\n' "$out" | wc -l)
[ "$lines" -eq 4 ] || { echo "expected 4 lines, got $lines:"; echo "$out"; exit 1; }
l1=$(printf '%s\n' "$out" | sed -n 1p); l2=$(printf '%s\n' "$out" | sed -n 2p)
l3=$(printf '%s\n' "$out" | sed -n 3p); l4=$(printf '%s\n' "$out" | sed -n 4p)
[ "$l1" = '{"result":3}' ] || { echo "line 1: $l1"; exit 1; }
printf '%s' "$l2" | grep -q '"error"' || { echo "line 2: $l2"; exit 1; }
printf '%s' "$l2" | grep -q 'boom' || { echo "line 2: $l2"; exit 1; }
printf '%s' "$l3" | grep -q '"error"' || { echo "line 3: $l3"; exit 1; }
[ "$l4" = '{"result":["a","b"]}' ] || { echo "line 4: $l4"; exit 1; }
echo "ndjson: 4 lines in order ($expected)" >/dev/null
echo "ndjson ok"
