#!/bin/bash
# The real desktop programs under Xvfb with the real module, helper and
# emulator: LightDM with lightdm-gtk-greeter, xscreensaver 6, polkit's
# pkexec with pkttyagent (tests/desktop/).  Each test file runs in
# tests/e2e/sandbox.sh's namespace.  Screenshots of every step go to
# _build/results/80-desktop/.  GDM and SDDM cannot run here: their PAM files
# come from their Debian packages (apt-get download, cached with the
# container tree under /var/cache/pam-freddy-tests) and are compared with
# the shipped ones.  Needs root.
# shellcheck source=tests/stages/lib.sh
source "$(dirname "$0")/lib.sh"
stage=80-desktop
if [ "$(id -u)" != 0 ]; then
	echo "skip: the desktop tests need root"
	record_counts $stage 0 0 1
	exit 0
fi
if [ ! -f "$build_root/main/Makefile" ]; then
	configure_build main --enable-werror || exit 1
fi
cd "$build_root/main" || exit 1
make -j2 >/dev/null || { make 2>&1 | tail -40; exit 1; }

# Debian 12's gdm-password and sddm PAM files, from the packages themselves.
cache=${FREDDY_TEST_CACHE:-/var/cache/pam-freddy-tests}
versions=$(apt-cache policy gdm3 sddm 2>/dev/null | sed -n 's/^  Candidate: //p' | tr '\n' '_')
dm_pam="$cache/dm-pam-${versions:-unknown}"
if [ ! -f "$dm_pam/gdm-password" ] || [ ! -f "$dm_pam/sddm" ]; then
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/freddy-dm-debs.XXXXXX")
	chmod 0755 "$scratch"
	if (cd "$scratch" && apt-get download gdm3 sddm >download.log 2>&1) &&
		for deb in "$scratch"/*.deb; do dpkg-deb -x "$deb" "$scratch/tree" || exit 1; done; then
		mkdir -p "$dm_pam.tmp" && cp "$scratch/tree/etc/pam.d/gdm-password" "$scratch/tree/etc/pam.d/sddm" "$dm_pam.tmp/" &&
			rm -rf "$dm_pam" && mv "$dm_pam.tmp" "$dm_pam"
	else
		echo "could not fetch gdm3 and sddm with apt-get download:"
		cat "$scratch/download.log"
	fi
	rm -rf "$scratch"
fi
[ -f "$dm_pam/gdm-password" ] && export FREDDY_DEBIAN_PAM="$dm_pam"

# Another X server on this host, one that lets no one in, as a person's
# desktop or another job's Xvfb would be: the sandbox shares the host's
# network namespace, where X's abstract sockets live, so each test's Xvfb
# must find a display of its own and no program under test may reach this one.
decoy=$(mktemp -d "${TMPDIR:-/tmp}/freddy-x-decoy.XXXXXX")
xauth -q -f "$decoy/auth" add :0 . "$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" || exit 1
Xvfb -displayfd 9 -nolisten tcp -nolock -auth "$decoy/auth" 9>"$decoy/display" >"$decoy/log" 2>&1 &
decoy_pid=$!
trap 'kill $decoy_pid 2>/dev/null; rm -rf "$decoy"' EXIT
for _ in $(seq 300); do
	[ -s "$decoy/display" ] && break
	kill -0 $decoy_pid 2>/dev/null || break
	sleep 0.1
done
if [ ! -s "$decoy/display" ]; then
	echo "the other X server did not start:"
	cat "$decoy/log"
	exit 1
fi
echo "$stage: another X server (no access) on :$(cat "$decoy/display")"
export FREDDY_SCREENSHOTS="$results/80-desktop"
rm -rf "$FREDDY_SCREENSHOTS"
mkdir -p "$FREDDY_SCREENSHOTS"
make check-desktop
status=$?
log=desktop-suite.log
pass=$(sed -n 's/^# PASS: *//p' "$log" | head -1)
fail=$(($(sed -n 's/^# FAIL: *//p' "$log" | head -1) + $(sed -n 's/^# ERROR: *//p' "$log" | head -1) + $(sed -n 's/^# XPASS: *//p' "$log" | head -1)))
skip=$(sed -n 's/^# SKIP: *//p' "$log" | head -1)
[ $status -eq 0 ] || fail=$((fail > 0 ? fail : 1))
record_counts $stage "${pass:-0}" "${fail:-1}" "${skip:-0}"
[ $status -eq 0 ] || cat "$log"
echo "$stage: screenshots in $FREDDY_SCREENSHOTS ($(ls "$FREDDY_SCREENSHOTS" | wc -l) files)"
exit $status
