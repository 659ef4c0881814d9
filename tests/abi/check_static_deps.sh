#!/bin/sh
# libkam_addin.so carries its own OpenSSL and SQLite (DESIGN section 3): neither is a NEEDED
# shared library, so another add-in with other versions can share the host process.
set -eu
needed=$(readelf -d "$1" | awk '/NEEDED/ {print $5}')
echo "NEEDED: $needed"
if printf '%s\n' "$needed" | grep -Eq 'libssl|libcrypto|libsqlite3'; then
  echo "OpenSSL or SQLite is linked dynamically" >&2
  exit 1
fi
