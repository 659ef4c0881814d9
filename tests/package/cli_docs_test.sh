#!/bin/bash
# The man page and the bash completion generated from kam's own command line: the page has
# every verb, the completion script parses and completes verbs, sub-verbs and options.
# Usage: cli_docs_test.sh KAM
set -euo pipefail
kam="$1"
# File-name completion must not see this checkout's folders (one is called "rules").
cd "$(mktemp -d)"
trap 'rm -rf "$PWD"' EXIT
export ASAN_OPTIONS=detect_leaks=0
page=$("$kam" man)
for heading in '.TH KAM 1' '.SH NAME' '.SH SYNOPSIS' '.SH COMMANDS' '.SH ENVIRONMENT'; do
  grep -qF -- "$heading" <<<"$page" || { echo "man page lacks $heading"; exit 1; }
done
for verb in 'kam rules check' 'kam sync' 'kam sandbox serve' 'kam provision'; do
  grep -qF -- ".SS \"$verb\"" <<<"$page" || { echo "man page lacks $verb"; exit 1; }
done
grep -qF -- '\-\-dry\-run' <<<"$page" || { echo "man page lacks --dry-run"; exit 1; }

script=$("$kam" completion bash)
bash -n <<<"$script"
eval "$script"
complete_words() {  # complete_words WORD... : COMPREPLY for the last word
  COMP_WORDS=(kam "$@"); COMP_CWORD=$(($# )); COMPREPLY=(); _kam
  printf '%s\n' "${COMPREPLY[@]}"
}
complete_words "" | grep -x rules >/dev/null
complete_words ru | grep -x rules >/dev/null
complete_words rules "" | grep -x check >/dev/null
complete_words rules ch | grep -x check >/dev/null
complete_words sync --d | grep -x -- --dry-run >/dev/null
complete_words --config kam.json sync --d | grep -x -- --dry-run >/dev/null
complete_words sandbox serve --se | grep -x -- --seed >/dev/null
if complete_words sync "" | grep -x rules >/dev/null; then echo "sync must not offer verbs"; exit 1; fi
! "$kam" completion zsh >/dev/null 2>&1 || { echo "an unknown shell must be refused"; exit 1; }
echo "cli docs: man page and bash completion OK"
