#!/usr/bin/env bash
# The man pages rendered at build time (docs/man/render_man.py):
#   - groff formats them without a warning;
#   - keywarden(8) documents every command and option `keywarden --help` lists.
# (keywarden.toml(5) against the config loader: config_keys_documented_test.)
# Usage: check_man_pages.sh MAN_DIR KEYWARDEN_BIN
set -uo pipefail
man_dir="$1" keywarden="$2"
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

for page in keywarden.8 keywarden.toml.5; do
  [[ -s "$man_dir/$page" ]] || { fail "$man_dir/$page was not rendered"; continue; }
  if command -v groff >/dev/null 2>&1; then
    warnings="$(LC_ALL=C groff -man -ww -z -Tutf8 "$man_dir/$page" 2>&1)"
    [[ -z "$warnings" ]] || fail "groff warns about $page: $warnings"
  fi
done

text="$(LC_ALL=C groff -man -Tascii -rLL=200n -rHY=0 -P-cbou "$man_dir/keywarden.8" 2>/dev/null || cat "$man_dir/keywarden.8")"
commands="$("$keywarden" --help | awk 'tolower($0) ~ /^subcommands:/ {on=1; next} on && /^[^ ]/ {on=0} on && NF {print $1}')"
[[ -n "$commands" ]] || fail "no command found in 'keywarden --help'"
for command in $commands; do
  grep -qE "^ {7}$command( |$)" <<<"$text" || fail "keywarden(8) has no entry for the command '$command'"
  for option in $("$keywarden" "$command" --help | grep -oE '(^|[ ,])--[a-zA-Z][a-zA-Z-]*' | tr -d ' ,' | sort -u); do
    grep -qF -- "$option" <<<"$text" || fail "keywarden(8) does not mention '$command $option'"
  done
done
for code in 0 1 2 3 4; do
  grep -qE "^ {7}$code( |$)" <<<"$text" || fail "keywarden(8) EXIT STATUS has no entry for $code"
done
for section in COMMANDS "EXIT STATUS" FILES SIGNALS ENVIRONMENT; do
  grep -qx "$section" <<<"$text" || fail "keywarden(8) has no $section section"
done

((failures)) && exit 1
echo "man pages: render cleanly; keywarden(8) covers every command, option and exit code"
