#!/bin/bash
# valgrind memcheck: every unit test, then the core integration tests with
# the helper started under valgrind (FREDDY_HELPER_WRAPPER, read by
# tests/lib/freddytest.py).  Any memcheck error or definite/indirect leak
# fails the stage.  The socket-abuse and caller tests run only in the other
# stages: their timing (idle limits, 500 connections) is not worth valgrind's
# slowdown inside the 30-minute CI budget.
source "$(dirname "$0")/lib.sh"
configure_build valgrind --enable-werror CFLAGS="-g -O1" || exit 1
build="$build_root/valgrind"
cd "$build" || exit 1
make -j2 >make.log 2>&1 || { tail -40 make.log; exit 1; }
vglogs="$build/vg-logs"
rm -rf "$vglogs"
mkdir -p "$vglogs"
vg="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --track-fds=no"
unit_tests=$(sed -n 's/^\t\(tests\/unit\/test_[a-z0-9_]*\).*/\1/p' Makefile | sort -u | tr '\n' ' ')
integration="tests/integration/test_freddy_login.py tests/integration/test_security_server.py tests/integration/test_security_secrets.py tests/integration/test_security_failmode.py tests/integration/test_jwt.py"
make check TESTS="$unit_tests" LOG_COMPILER="$vg" >unit.out 2>&1
ustatus=$?
cp test-suite.log unit-suite.log
FREDDY_HELPER_WRAPPER="$vg --log-file=$vglogs/helper.%p" make check TESTS="$integration" >integ.out 2>&1
istatus=$?
# Combine the two automake runs' counts.
pass=$(($(grep -h '^# PASS:' unit-suite.log test-suite.log | awk '{s+=$3} END {print s}')))
fail=$(($(grep -h -E '^# (FAIL|ERROR|XPASS):' unit-suite.log test-suite.log | awk '{s+=$3} END {print s}')))
bad=0
runs=0
for f in "$vglogs"/helper.*; do
	[ -e "$f" ] || continue
	runs=$((runs + 1))
	if [ -s "$f" ]; then	# --quiet: only errors and leaks are written
		echo "== valgrind report $f"
		head -80 "$f"
		bad=$((bad + 1))
	fi
done
echo "valgrind: $runs helper runs, $bad with errors or leaks; unit status $ustatus, integration status $istatus"
[ $ustatus -eq 0 ] || cat unit-suite.log
[ $istatus -eq 0 ] || cat test-suite.log
[ $runs -gt 0 ] || { echo "the helper never ran under valgrind"; bad=1; }
record_counts 45-valgrind "$pass" $((fail + bad))
[ $ustatus -eq 0 ] && [ $istatus -eq 0 ] && [ $bad -eq 0 ]
