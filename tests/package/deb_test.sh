#!/bin/sh
# Builds the Debian package from a configured build tree, checks it with lintian (no error
# allowed), unpacks it into a throwaway root and runs the kam found there.
# Usage: deb_test.sh BUILD_DIR
set -eu
build="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log"; exit 1; }
deb=$(find "$tmp/out" -maxdepth 1 -name 'kam-addin_*.deb' | head -n 1)
test -n "$deb" || { echo "no .deb built"; ls "$tmp/out"; exit 1; }
find "$tmp/out" -maxdepth 1 -name 'kam-addin-dbgsym_*.ddeb' | grep -q . ||
  { echo "no separate debug symbols package (kam-addin-dbgsym)"; exit 1; }

# lintian: every error fails the test (warnings are printed for the reader).
lintian --fail-on error --tag-display-limit 0 "$deb"

# The package's control data: shlibs, the ldconfig trigger, maintainer scripts.
dpkg-deb -e "$deb" "$tmp/control"
grep -q '^libkam_addin 1 ' "$tmp/control/shlibs"
grep -q 'ldconfig' "$tmp/control/triggers"
sh -n "$tmp/control/postinst" && grep -q 'adduser --system' "$tmp/control/postinst"
grep -q 'install -d -m 0700 -o kam' "$tmp/control/postinst"

# One identity: the control file's maintainer is the copyright's Upstream-Contact and signs the
# changelog; never a local host name (packaging/README.md says what a release owner sets).
maintainer=$(dpkg-deb -f "$deb" Maintainer)
case "$maintainer" in
  *localhost*|*localdomain*|*@example.*|"") echo "placeholder maintainer: '$maintainer'"; exit 1 ;;
  *"<"*@*">") ;;
  *) echo "maintainer is not 'Name <address>': '$maintainer'"; exit 1 ;;
esac
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/doc/kam-addin/copyright >"$tmp/copyright"
grep -qxF "Upstream-Contact: $maintainer" "$tmp/copyright" ||
  { echo "copyright Upstream-Contact differs from the maintainer '$maintainer'"; exit 1; }
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/doc/kam-addin/changelog.gz | gzip -dc |
  grep -qF " -- $maintainer  " ||
  { echo "the changelog is not signed by the maintainer '$maintainer'"; exit 1; }
homepage=$(dpkg-deb -f "$deb" Homepage)
test -n "$homepage" && grep -qxF "Source: $homepage" "$tmp/copyright" ||
  { echo "copyright Source differs from the Homepage '$homepage'"; exit 1; }

# Unpack into a throwaway root and run what it holds.
dpkg-deb -x "$deb" "$tmp/root"
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
test -f "$tmp/root/usr/lib/$arch/libkam_addin.so.1"
test -f "$tmp/root/usr/share/doc/kam-addin/copyright"
test -f "$tmp/root/usr/share/doc/kam-addin/changelog.gz"
test -f "$tmp/root/usr/share/man/man1/kam.1.gz"
test -f "$tmp/root/usr/share/bash-completion/completions/kam"
if file "$tmp/root/usr/bin/kam" | grep -q 'not stripped'; then echo "kam is not stripped"; exit 1; fi
export ASAN_OPTIONS=detect_leaks=0
"$tmp/root/usr/bin/kam" version | grep -q 'kam-addin\|KAM'
"$tmp/root/usr/bin/kam" sync --help | grep -q -- '--dry-run'
echo "deb: lintian clean, unpacked kam runs"
