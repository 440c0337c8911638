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

# source_hash: one hash over the names and contents of the tree's files
# (tracked and new, not _build/), so a build can be reused only for the
# very tree it was made from.
source_hash() {
	(cd "$top" && git ls-files -z --cached --others --exclude-standard | grep -zv '^_build/' |
		LC_ALL=C sort -z | xargs -0 sha256sum 2>/dev/null | sha256sum | cut -d' ' -f1)
}

# build_packages: the Debian packages of this tree in _build/pkg, built
# from a clean copy of it.  A build of the same tree that an earlier stage
# made (70-package, then 75-systemd) is reused.  Prints what it did;
# returns non-zero when the build fails (its log is _build/pkg/build.log).
build_packages() {
	local work="$build_root/pkg" hash
	hash=$(source_hash)
	if [ -f "$work/source.sha256" ] && [ "$(cat "$work/source.sha256")" = "$hash" ] &&
		ls "$work"/freddy-helperd_*.deb "$work"/libpam-freddy_*.deb >/dev/null 2>&1; then
		echo "reusing the packages built from this tree in $work"
		return 0
	fi
	rm -rf "$work"
	mkdir -p "$work/src" "$work/state"
	(cd "$top" && git ls-files -z --cached --others --exclude-standard | grep -zv '^_build/' |
		tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$work/src" || return 1
	(cd "$work/src" && dpkg-buildpackage -us -uc -b -j2 >"$work/build.log" 2>&1) || return 1
	echo "$hash" >"$work/source.sha256"
}
