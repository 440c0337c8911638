#!/bin/bash
# Build with warnings as errors and run the unit and integration tests.
source "$(dirname "$0")/lib.sh"
set -o pipefail
configure_build main --enable-werror || exit 1
cd "$build_root/main" || exit 1
make -j2 >/dev/null || { make 2>&1 | tail -40; exit 1; }
make -j2 check
status=$?
record_automake 10-check .
[ $status -eq 0 ] || cat test-suite.log
exit $status
