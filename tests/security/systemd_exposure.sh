#!/bin/sh
# Rates a systemd unit with `systemd-analyze security --offline=yes` and fails when its exposure
# is above THRESHOLD (tenths: 15 = 1.5). Usage: systemd_exposure.sh UNIT_FILE THRESHOLD
set -eu
unit=$1
threshold=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# A template unit is rated as an instance.
name=$(basename "$unit" | sed 's/@\./@acme./')
cp "$unit" "$dir/$name"
systemd-analyze security --offline=yes --threshold="$threshold" "$dir/$name" | tail -1
