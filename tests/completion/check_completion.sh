#!/usr/bin/env bash
# The bash completion covers every command and every option that
# `keywarden --help` and `keywarden COMMAND --help` list, and completes a few
# command lines as a user types them (COMP_WORDS / COMP_CWORD, as bash sets them).
# Usage: check_completion.sh COMPLETION_FILE KEYWARDEN_BIN
set -uo pipefail
completion="$1" keywarden="$2"
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# shellcheck source=/dev/null
source "$completion" || { echo "FAIL: cannot source $completion" >&2; exit 1; }
spec="$(complete -p keywarden 2>/dev/null)"
[[ "$spec" == "complete -F _keywarden keywarden" ]] || fail "complete -p keywarden says '$spec'"

# complete WORD... : what the completion offers for the last word.
complete_line() {
  COMP_WORDS=(keywarden "$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE="${COMP_WORDS[*]}"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _keywarden keywarden "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  printf '%s\n' "${COMPREPLY[@]}"
}
offers() {  # offers "EXPECTED" WORD...
  local expected="$1"
  shift
  local offered
  offered="$(complete_line "$@")"  # captured first: grep -q closing a pipe early would fail it under pipefail
  grep -qxF -- "$expected" <<<"$offered" || fail "'keywarden $*<TAB>' does not offer '$expected' (got: $(tr '\n' ' ' <<<"$offered"))"
}

# The commands, from the binary's own help (CLI11: a "SUBCOMMANDS:"/"Subcommands:" section).
commands="$("$keywarden" --help | awk 'tolower($0) ~ /^subcommands:/ {on=1; next} on && /^[^ ]/ {on=0} on && NF {print $1}')"
[[ -n "$commands" ]] || { echo "FAIL: no command found in 'keywarden --help'" >&2; exit 1; }
count=0
for command in $commands; do
  count=$((count + 1))
  offers "$command" ""
  offers "$command" "${command:0:2}"
  # Every option of the command.
  options="$("$keywarden" "$command" --help | grep -oE '(^|[ ,])--?[a-zA-Z][a-zA-Z-]*' | tr -d ' ,' | sort -u)"
  for option in $options; do
    offers "$option" "$command" "${option:0:2}"
  done
done
((count >= 10)) || fail "only $count commands in 'keywarden --help': $commands"

# A few lines as typed.
offers "--config" "--c"
offers "plan" -c /etc/keywarden/keywarden.toml pl
offers "--detailed-exitcode" -c /etc/keywarden/keywarden.toml plan --d
offers "7d" audit --since ""
offers "--json" audit --since 7d --j
[[ -z "$(complete_line version --j)" ]] || fail "'keywarden version --j' offers options version does not have"
[[ -z "$(complete_line plan "")" ]] || fail "'keywarden plan <TAB>' offers words where plan takes no argument"

dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
touch "$dir/site.toml"
offers "$dir/site.toml" -c "$dir/si"

if ((failures)); then
  echo "$failures completion check(s) failed" >&2
  exit 1
fi
echo "completion: $count commands and their options complete"
