#!/bin/bash
# End to end with the real programs: sshd, ssh, sudo, su, login, the display
# manager and screen-locker PAM files, pam-auth-update.  Needs root; each
# test file runs in a private mount namespace and fails if it changed the
# machine (tests/e2e/sandbox.sh).
# shellcheck source=tests/stages/lib.sh
source "$(dirname "$0")/lib.sh"
if [ ! -f "$build_root/main/Makefile" ]; then
	configure_build main --enable-werror || exit 1
fi
cd "$build_root/main" || exit 1
make -j2 >/dev/null || { make 2>&1 | tail -40; exit 1; }
find /tmp -maxdepth 1 -name "freddy-e2e*" | LC_ALL=C sort >"$results/30-e2e.tmp-before"
make -j2 check-e2e
status=$?
find /tmp -maxdepth 1 -name "freddy-e2e*" | LC_ALL=C sort >"$results/30-e2e.tmp-after"
if ! cmp -s "$results/30-e2e.tmp-before" "$results/30-e2e.tmp-after"; then
	echo "30-e2e: temporary folders left behind:"
	comm -13 "$results/30-e2e.tmp-before" "$results/30-e2e.tmp-after"
	status=1
fi
rm -f "$results/30-e2e.tmp-before" "$results/30-e2e.tmp-after"
log=e2e-suite.log
pass=$(sed -n 's/^# PASS: *//p' "$log" | head -1)
fail=$(($(sed -n 's/^# FAIL: *//p' "$log" | head -1) + $(sed -n 's/^# ERROR: *//p' "$log" | head -1) + $(sed -n 's/^# XPASS: *//p' "$log" | head -1)))
skip=$(sed -n 's/^# SKIP: *//p' "$log" | head -1)
[ $status -eq 0 ] || fail=$((fail > 0 ? fail : 1))
record_counts 30-e2e "${pass:-0}" "${fail:-1}" "${skip:-0}"
[ $status -eq 0 ] || cat "$log"
exit $status
