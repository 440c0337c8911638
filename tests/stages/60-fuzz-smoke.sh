#!/bin/bash
# Build the libFuzzer harnesses with clang (ASan+UBSan) and run every one
# there is (fuzz/fuzz_*.c) over its seed corpus (fuzz/corpus/NAME, read
# only) for FUZZ_SECONDS each (default 30), FUZZ_JOBS at a time (default
# 2, the CI machine's cores).  A harness that was not built (missing from
# FUZZ_TARGETS in Makefile.am) or has no seed corpus fails the stage, as
# does any crash, leak or sanitizer report.  New inputs go to a scratch
# corpus under _build/fuzz/run; figures: _build/results/60-fuzz-smoke.txt.
source "$(dirname "$0")/lib.sh"
seconds=${FUZZ_SECONDS:-30}
jobs=${FUZZ_JOBS:-2}
cc=${FUZZ_CC:-clang-14}
command -v "$cc" >/dev/null || { echo "$cc not found"; record_counts 60-fuzz-smoke 0 1; exit 1; }
configure_build fuzz --enable-fuzzing CC="$cc" || { echo "configure --enable-fuzzing failed"; exit 1; }
cd "$build_root/fuzz" || exit 1
make -j2 >make.log 2>&1 || { tail -40 make.log; exit 1; }
summary="$results/60-fuzz-smoke.txt"
: >"$summary"

targets=()
for src in "$top"/fuzz/fuzz_*.c; do
	[ -e "$src" ] && targets+=("$(basename "$src" .c)")
done
[ ${#targets[@]} -gt 0 ] || { echo "no harness in $top/fuzz"; record_counts 60-fuzz-smoke 0 1; exit 1; }

# run_one NAME: fuzz one harness; its verdict goes to run/NAME/verdict.
run_one() {
	local target=$1 work="$build_root/fuzz/run/$1"
	rm -rf "$work"
	mkdir -p "$work/corpus" "$work/artifacts"
	if [ ! -x "./fuzz/$target" ]; then
		echo "$target: not built (add it to FUZZ_TARGETS in Makefile.am)" >"$work/verdict"
		return
	fi
	if [ -z "$(ls -A "$top/fuzz/corpus/$target" 2>/dev/null)" ]; then
		echo "$target: no seed corpus in fuzz/corpus/$target" >"$work/verdict"
		return
	fi
	local log="$work/fuzz.log"
	"./fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/" "$work/corpus" "$top/fuzz/corpus/$target" >"$log" 2>&1
	local status=$?
	local execs cov ft crashes
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	crashes=$(find "$work/artifacts" -type f | wc -l)
	echo "$target: ${seconds}s, ${execs:-0} executions, cov ${cov:-?} edges, ft ${ft:-?}, corpus $(ls "$work/corpus" | wc -l) new, crashes $crashes, exit $status" >"$work/verdict"
	[ $status -eq 0 ] && [ "$crashes" -eq 0 ] && touch "$work/passed"
}

running=0
for target in "${targets[@]}"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	run_one "$target" &
	running=$((running + 1))
done
wait

pass=0 fail=0
for target in "${targets[@]}"; do
	work="$build_root/fuzz/run/$target"
	tee -a "$summary" <"$work/verdict"
	if [ -e "$work/passed" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		[ -f "$work/fuzz.log" ] && tail -40 "$work/fuzz.log"
	fi
done
record_counts 60-fuzz-smoke $pass $fail
[ $fail -eq 0 ]
