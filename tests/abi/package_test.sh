#!/bin/sh
# Installs the build into a temporary prefix, then builds and runs a small C host against the
# installed package twice: through find_package(KamAddin) and through pkg-config.
# Usage: package_test.sh BUILD_DIR SOURCE_DIR C_COMPILER "EXTRA_C_FLAGS"
set -eu
build="$1"; src="$2"; cc="$3"; cflags="${4:-}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -x "$tmp/prefix/bin/kam"
test -f "$tmp/prefix/include/kam/addin.h"
libdir=$(dirname "$(find "$tmp/prefix" -name 'libkam_addin.so' | head -n 1)")
test -n "$libdir"
test -f "$tmp/prefix/share/kam-addin/systemd/kam-sync@.timer"

cmake -S "$src/tests/abi/consumer" -B "$tmp/cmake-build" -G Ninja \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$cflags" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null
LD_LIBRARY_PATH="$libdir" "$tmp/cmake-build/consumer"

PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --exists kam-addin
# The .pc file carries the install prefix of the build; point it at the temporary prefix.
# shellcheck disable=SC2046
"$cc" $cflags -o "$tmp/pc-consumer" "$src/tests/abi/consumer/consumer.c" \
  $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --define-variable=prefix="$tmp/prefix" \
      --cflags --libs kam-addin)
LD_LIBRARY_PATH="$libdir" "$tmp/pc-consumer"
"$tmp/prefix/bin/kam" --plugin "$libdir/libkam_addin.so" version >/dev/null
echo "package: find_package and pkg-config consumers built and ran"
