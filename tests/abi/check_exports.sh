#!/bin/sh
# The only dynamic symbol libkam_addin.so defines is kam_addin_negotiate.
set -eu
lib="$1"
symbols=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^$' | sort)
if [ "$symbols" = "kam_addin_negotiate" ]; then
  echo "exports: kam_addin_negotiate only"
  exit 0
fi
echo "unexpected exported symbols in $lib:" >&2
echo "$symbols" >&2
exit 1
