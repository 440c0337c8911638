#!/bin/bash
# The whole test suite against an ASan+UBSan build (gcc): unit tests, and the
# integration tests with the instrumented helper and module.  pamtester is
# not instrumented, so the ASan runtime and the module are preloaded ahead of
# pam_wrapper (PAM_WRAPPER_DISABLE_DEEPBIND=1, see the field notes).  Reports
# go to files; any report fails the stage even when the test passed.  No
# leak suppressions: pamtester, libpam and pam_wrapper run clean as they are.
source "$(dirname "$0")/lib.sh"
configure_build asan --enable-sanitizers --enable-werror || { echo "configure --enable-sanitizers failed"; exit 1; }
build="$build_root/asan"
cd "$build" || exit 1
make -j2 >make.log 2>&1 || { tail -40 make.log; exit 1; }
reports="$build/san-reports"
rm -rf "$reports"
mkdir -p "$reports"
chmod 1777 "$reports"		# unprivileged pamtester runs write here too
asan_rt=$(${CC:-gcc} -print-file-name=libasan.so)
[ -f "$asan_rt" ] || { echo "ASan runtime not found"; exit 1; }
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:verify_asan_link_order=0:strict_string_checks=1:detect_invalid_pointer_pairs=1:check_initialization_order=1"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1"
export PAM_WRAPPER_DISABLE_DEEPBIND=1
# nss_wrapper (the test accounts) likewise: ASan refuses RTLD_DEEPBIND.
export NSS_WRAPPER_DISABLE_DEEPBIND=1
export FREDDY_PAM_PRELOAD="$asan_rt $build/.libs/pam_freddy.so"
make -j2 check
status=$?
record_automake 40-sanitizers .
[ $status -eq 0 ] || cat test-suite.log
if [ -n "$(ls -A "$reports")" ]; then
	echo "sanitizer reports:"
	for f in "$reports"/*; do
		echo "== $f"
		head -60 "$f"
	done
	record_counts 40-sanitizers 0 1
	exit 1
fi
exit $status
