#!/bin/bash
# The release tarball builds and passes its tests from a clean, read-only
# source tree (automake's distcheck).
source "$(dirname "$0")/lib.sh"
cd "$build_root/main" 2>/dev/null || { configure_build main --enable-werror && cd "$build_root/main"; } || exit 1
if make -j2 distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror >"$build_root/distcheck.log" 2>&1; then
	grep -A2 'archives ready' "$build_root/distcheck.log"
	record_counts 20-distcheck 1 0
else
	tail -60 "$build_root/distcheck.log"
	record_counts 20-distcheck 0 1
	exit 1
fi
