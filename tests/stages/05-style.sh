#!/bin/bash
# House rule 10, enforced: every tracked C file follows .clang-format
# (tests/style/check-format) and the project's C code outside tests/ calls
# no banned function (tests/style/check-banned, whose own self-test runs
# first so that a broken checker cannot pass the tree), and the helper's
# layers keep to their include rules with no include circle
# (tests/style/check-layers), and every config key and PAM argument is
# described once in its man page and named in README's index, with no
# dead relative link in the Markdown documents (tests/style/check-docs,
# after its own self-test).  Seconds, no build.
# Counts: one per check.
# shellcheck source=tests/stages/lib.sh
source "$(dirname "$0")/lib.sh"
style="$top/tests/style"
pass=0 fail=0
run_check() {
	local name=$1 log="$results/05-style.$1.log"
	shift
	if "$@" >"$log" 2>&1; then
		echo "ok: $name: $(tail -1 "$log")"
		pass=$((pass + 1))
	else
		echo "FAIL: $name"
		head -60 "$log"
		[ "$(wc -l <"$log")" -le 60 ] || echo "... (all of it in $log)"
		fail=$((fail + 1))
	fi
}
run_check check-banned-selftest bash "$style/test_check_banned.sh"
run_check check-banned /usr/bin/python3 "$style/check-banned"
run_check check-format "$style/check-format"
run_check check-layers /usr/bin/python3 "$style/check-layers"
run_check check-docs-selftest bash "$style/test_check_docs.sh"
run_check check-docs /usr/bin/python3 "$style/check-docs"
record_counts 05-style $pass $fail
[ $fail -eq 0 ]
