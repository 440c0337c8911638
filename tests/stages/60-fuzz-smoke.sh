#!/bin/bash
# Build the libFuzzer harnesses with clang (ASan+UBSan) and run each over its
# seed corpus (fuzz/corpus/NAME, read only) for FUZZ_SECONDS (default 60).
# New inputs go to a scratch corpus under _build/fuzz; any crash, leak or
# sanitizer report fails the stage.  Figures: _build/results/60-fuzz-smoke.txt.
source "$(dirname "$0")/lib.sh"
seconds=${FUZZ_SECONDS:-60}
cc=${FUZZ_CC:-clang-14}
command -v "$cc" >/dev/null || { echo "$cc not found"; record_counts 60-fuzz-smoke 0 1; exit 1; }
configure_build fuzz --enable-fuzzing CC="$cc" || { echo "configure --enable-fuzzing failed"; exit 1; }
cd "$build_root/fuzz" || exit 1
make -j2 >make.log 2>&1 || { tail -40 make.log; exit 1; }
summary="$results/60-fuzz-smoke.txt"
: >"$summary"
pass=0 fail=0
for target in fuzz_wire fuzz_api_parse fuzz_config fuzz_text; do
	work="$build_root/fuzz/run/$target"
	rm -rf "$work"
	mkdir -p "$work/corpus" "$work/artifacts"
	log="$work/fuzz.log"
	./fuzz/$target -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/" "$work/corpus" "$top/fuzz/corpus/$target" >"$log" 2>&1
	status=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	crashes=$(find "$work/artifacts" -type f | wc -l)
	line="$target: ${seconds}s, ${execs:-0} executions, cov ${cov:-?} edges, ft ${ft:-?}, corpus $(ls "$work/corpus" | wc -l) new, crashes $crashes, exit $status"
	echo "$line" | tee -a "$summary"
	if [ $status -eq 0 ] && [ "$crashes" -eq 0 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		tail -40 "$log"
	fi
done
record_counts 60-fuzz-smoke $pass $fail
[ $fail -eq 0 ]
