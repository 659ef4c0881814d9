#!/bin/bash
# kam(1) and the bash completion know `kam init` and `kam doctor` with their options and the
# doctor's exit status (both are generated from the command line: plugin/host/cli_docs.cc).
# Usage: cli_docs_admin_test.sh KAM
set -euo pipefail
kam="$1"
cd "$(mktemp -d)"
trap 'rm -rf "$PWD"' EXIT
export ASAN_OPTIONS=detect_leaks=0
page=$("$kam" man)
for needle in '.SS "kam init"' '.SS "kam doctor"' '\-\-no\-provision' '\-\-token\-secret' \
              '\-\-strict' 'Exit status: 0 when no check failed' '.B CI'; do
  grep -qF -- "$needle" <<<"$page" || { echo "man page lacks $needle"; exit 1; }
done
eval "$("$kam" completion bash)"
complete_words() {
  COMP_WORDS=(kam "$@"); COMP_CWORD=$(($# )); COMPREPLY=(); _kam
  printf '%s\n' "${COMPREPLY[@]}"
}
complete_words do | grep -x doctor >/dev/null
complete_words in | grep -x init >/dev/null
complete_words init --no | grep -x -- --no-provision >/dev/null
complete_words init --cr | grep -x -- --crm >/dev/null
complete_words doctor --st | grep -x -- --strict >/dev/null
echo "cli docs: init and doctor OK"
