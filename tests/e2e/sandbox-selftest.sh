#!/bin/bash
# sandbox-selftest.sh: tests/e2e/sandbox.sh must not depend on a quiet
# machine, and must still catch a test that changes the host.
#
# The "host" here is itself a mount namespace whose /etc, /root, /home,
# /var/log and /run are overlays on the real ones, so the foreign activity
# below (failed-login records in btmp, wtmp and auth.log, a root shell's
# history) and the changes the bad tests make land in scratch folders, not
# on this machine.  Exit 77 (SKIP) when not root.
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root (mount namespaces)"
	exit 77
fi
if [ -z "${FREDDY_SELFTEST_HOST:-}" ]; then
	exec unshare --mount --propagation private -- env FREDDY_SELFTEST_HOST=1 "$0" "$@"
fi

work=$(mktemp -d /tmp/freddy-e2e-selftest.XXXXXX) || exit 1
trap 'for d in /etc /root /home /var/log /run; do umount "$d" 2>/dev/null; done; rm -rf "$work"' EXIT
for d in /etc /root /home /var/log /run; do
	mkdir -p "$work/upper$d" "$work/work$d"
	mount -t overlay freddy-selftest -o "lowerdir=$d,upperdir=$work/upper$d,workdir=$work/work$d" "$d" || exit 1
done

touch /root/.freddy-selftest-present	# in the overlay "host"
pass=0 fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# foreign: what another sshd, a root shell and a package install do to the
# host while a test
# runs, every 0.1 s until told to stop.
foreign() {
	local i=0
	touch /var/log/btmp /var/log/wtmp /var/log/auth.log /run/utmp
	while [ ! -e "$work/stop" ]; do
		i=$((i + 1))
		head -c 384 /dev/urandom >>/var/log/btmp
		head -c 384 /dev/urandom >>/var/log/wtmp
		echo "Dec  1 10:00:00 host sshd[4$i]: Failed password for invalid user admin from 127.0.0.9 port $i ssh2" >>/var/log/auth.log
		head -c 384 /dev/urandom >>/run/utmp
		echo "ls $i" >>/root/.bash_history
		touch /root/.cache-of-some-editor
		echo "$i" >>/etc/ld.so.cache.freddy-selftest	# a package install elsewhere
		sleep 0.1
	done
	echo "$i" >"$work/foreign.count"
}

# 1. A real end-to-end test while foreign programs write to the host.
rm -f "$work/stop"
foreign &
foreign_pid=$!
bash "$here/sandbox.sh" "${PYTHON3:-/usr/bin/python3}" "$here/test_login.py" >"$work/foreign.log" 2>&1
status=$?
touch "$work/stop"
wait "$foreign_pid"
if [ $status -eq 0 ] && [ "$(cat "$work/foreign.count")" -gt 5 ]; then
	ok "test_login.py passes in the sandbox while btmp, wtmp, auth.log, utmp, /etc and /root/.bash_history change ($(cat "$work/foreign.count") rounds)"
else
	bad "test_login.py with foreign activity (status $status)"
	tail -30 "$work/foreign.log"
fi

# expect_caught NAME COMMAND: sandbox.sh must fail COMMAND, which changes
# the (overlay) host, and say so.
expect_caught() {
	local name=$1
	shift
	bash "$here/sandbox.sh" "$@" >"$work/caught.log" 2>&1
	local status=$?
	if [ $status -ne 0 ] && grep -q '^FAIL: the test' "$work/caught.log"; then
		ok "caught: $name"
	else
		bad "not caught: $name (status $status)"
		cat "$work/caught.log"
	fi
}
expect_caught "a file left in /root" sh -c 'touch /root/freddy-selftest-leak'
expect_caught "a folder left in /home" sh -c 'mkdir -p /home/freddy-selftest'
expect_caught "a file in /root deleted" sh -c 'rm -f /root/.freddy-selftest-present'
expect_caught "a private /etc unmounted, then written" \
	sh -c 'umount /etc && echo leak >/etc/freddy-selftest-leak'
expect_caught "a private /var/log unmounted, then written (the logs are not fingerprinted)" \
	sh -c 'umount /var/log && echo leak >>/var/log/auth.log'
# And the harmless case still passes: writes into the private trees.
if bash "$here/sandbox.sh" sh -c 'echo x >>/var/log/auth.log && touch /etc/freddy-selftest && mkdir -p /run/sshd' \
	>"$work/private.log" 2>&1; then
	ok "writes into the private /etc, /var/log and /run change nothing"
else
	bad "writes into the private trees were reported"
	cat "$work/private.log"
fi
echo "sandbox-selftest: $pass passed, $fail failed"
[ $fail -eq 0 ]
