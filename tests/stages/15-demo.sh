#!/bin/bash
# The README's first command must keep working: run its demonstration login
# against the build 10-check made.
source "$(dirname "$0")/lib.sh"
[ -x "$build_root/main/freddy-helperd" ] || { configure_build main && make -C "$build_root/main" -j2 >/dev/null; } || exit 1
out=$(FREDDY_TOP_BUILDDIR="$build_root/main" FREDDY_TOP_SRCDIR="$top" PYTHONPATH="$top/tests/lib" \
	PYTHONDONTWRITEBYTECODE=1 timeout 120 /usr/bin/python3 "$top/tests/demo.py" 2>&1)
status=$?
echo "$out" | tail -6
if [ $status -eq 0 ] && grep -q "successfully authenticated" <<<"$out"; then
	record_counts 15-demo 1 0
else
	record_counts 15-demo 0 1
	exit 1
fi
