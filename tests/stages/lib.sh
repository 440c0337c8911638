# Shared by the stage scripts: where things are, and how results are kept.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_root="$top/_build"
results="${FREDDY_RESULTS:-$build_root/results}"
mkdir -p "$build_root" "$results"

# configure_build NAME [configure args...]: an out-of-tree build in _build/NAME.
configure_build() {
	local name=$1
	shift
	[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null 2>&1) || return 1
	mkdir -p "$build_root/$name"
	(cd "$build_root/$name" && "$top/configure" --quiet "$@" >/dev/null)
}

# record_counts STAGE PASS FAIL [SKIP]
record_counts() {
	echo "$2 $3 ${4:-0}" >"$results/$1.counts"
}

# record_automake STAGE BUILDDIR: counts from automake's test-suite.log.
record_automake() {
	local log="$2/test-suite.log" pass fail skip
	pass=$(sed -n 's/^# PASS: *//p' "$log" | head -1)
	fail=$(($(sed -n 's/^# FAIL: *//p' "$log" | head -1) + $(sed -n 's/^# ERROR: *//p' "$log" | head -1) + $(sed -n 's/^# XPASS: *//p' "$log" | head -1)))
	skip=$(sed -n 's/^# SKIP: *//p' "$log" | head -1)
	record_counts "$1" "${pass:-0}" "${fail:-1}" "${skip:-0}"
}
