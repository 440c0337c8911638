#!/bin/bash
# sandbox.sh COMMAND...: run one end-to-end test program as root inside a
# private mount namespace that looks like the real machine but whose /etc,
# PAM module folder, /usr/share/pam-configs, /var/lib/pam, debconf database,
# /run, /var/log and /var/lib/sudo are private copies or empty tmpfs, and in
# a private PID namespace, so no process outlives the test.  The
# test may then change them freely (useradd, /etc/pam.d, sudoers.d,
# pam-auth-update, sshd's /run/sshd, login's lastlog) and the machine is not
# touched.  Exit 77 (automake's SKIP) when not root.
#
# Two checks keep that promise without needing a quiet machine (another
# sshd or greeter may log failures into the host's btmp, wtmp and auth.log
# at any time):
# - inside, the private mounts are listed before the test and again after
#   it: a test that unmounted or replaced one (and so could have written
#   through to the host) fails;
# - outside, only what the test could reach through its namespace is
#   fingerprinted, before and after: the host's copies of the private trees
#   (the test sees only its own copy, so any change there came through an
#   escape) and the names in the few places that are not private (/root,
#   /root/.ssh, /home, /var/mail).  Logs and /run are not compared: inside
#   they are empty tmpfs, so the test cannot have written them, and the
#   first check proves they stayed so.
set -u

secdir() {
	local f
	for f in /usr/lib/*/security/pam_unix.so /lib/*/security/pam_unix.so; do
		[ -e "$f" ] && { dirname "$f"; return; }
	done
}

# The trees the sandbox replaces by private copies or tmpfs.
private_trees() {
	echo /etc
	secdir
	echo /usr/share/pam-configs
	echo /var/lib/pam
	[ ! -d /var/cache/debconf ] || echo /var/cache/debconf
	echo /run
	echo /var/log
	[ ! -d /var/lib/sudo ] || echo /var/lib/sudo
}

# The host as a test could have changed it: metadata (mode, owner, size,
# mtime) of every file in the copied trees, contents of the files that
# matter most, and names only (foreign programs write dot files there) in
# the places a test reaches directly.
host_state() {
	local d f
	for d in /etc /usr/share/pam-configs /var/lib/pam /var/cache/debconf "$(secdir)"; do
		[ -e "$d" ] && find "$d" -xdev -printf '%p %y %m %U %G %s %T@\n' 2>/dev/null | LC_ALL=C sort
	done
	for f in /etc/passwd /etc/shadow /etc/group /etc/gshadow /etc/sudoers \
		/etc/pam.d/common-auth /etc/pam.d/login /etc/pam.d/su /etc/pam.d/sudo /etc/pam.d/sshd; do
		[ -e "$f" ] && sha256sum "$f"
	done
	for d in /root /root/.ssh /home /var/mail; do
		if [ -d "$d" ]; then
			echo "$d:"
			ls -A "$d" 2>/dev/null
		else
			echo "$d absent"
		fi
	done
	[ ! -d /root/.ssh ] || find /root/.ssh -maxdepth 1 -type f -exec sha256sum {} + 2>/dev/null | LC_ALL=C sort
}

# mounts_of_private_trees: for each private tree, the mount that serves it
# (mount ID, source and type from /proc/self/mountinfo); "not private" when
# the tree is not a mount point of its own.
mounts_of_private_trees() {
	local t
	while read -r t; do
		awk -v t="$t" '$5 == t { m = $1 " " $5 " " $4; for (i = 7; $i != "-"; i++); m = m " " $(i + 1) " " $(i + 2) }
			END { print (m == "" ? t " not private" : m) }' /proc/self/mountinfo
	done < <(private_trees)
}

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: the end-to-end tests need root (they run sshd, sudo, su and login)"
	exit 77
fi
for prog in unshare mount sshd ssh sudo su login setpriv useradd pam-auth-update openssl pamtester; do
	if ! command -v "$prog" >/dev/null && ! [ -x "/usr/sbin/$prog" ]; then
		echo "SKIP: $prog is not installed"
		exit 77
	fi
done

if [ -z "${FREDDY_E2E_SANDBOX:-}" ]; then
	state=$(mktemp -d /tmp/freddy-e2e-state.XXXXXX) || exit 1
	host_state >"$state/before"
	# A PID namespace too: whatever the test leaves running (a helper, an
	# sshd after a failed set-up) dies with it.
	unshare --mount --propagation private --pid --fork --mount-proc -- \
		env FREDDY_E2E_SANDBOX=pending "$0" "$@"
	status=$?
	host_state >"$state/after"
	if ! cmp -s "$state/before" "$state/after"; then
		echo "FAIL: the test changed the host outside its temporary folder:"
		diff "$state/before" "$state/after" | head -40
		status=1
	fi
	rm -rf "$state"
	exit $status
fi

# Inside the private mount namespace from here on.
[ "$FREDDY_E2E_SANDBOX" = pending ] || { echo "sandbox.sh: nested call" >&2; exit 1; }
sandbox=$(mktemp -d /tmp/freddy-e2e.XXXXXX) || exit 1
chmod 0755 "$sandbox"
cleanup() { rm -rf "$sandbox"; }
trap cleanup EXIT

copy_over() { # copy_over PATH: replace PATH by a private copy of itself
	local dest
	dest="$sandbox/copy$1"
	mkdir -p "$(dirname "$dest")" &&
		cp -a "$1" "$dest" &&
		mount --bind "$dest" "$1"
}
fresh_tmpfs() { # fresh_tmpfs PATH [MODE]
	[ -d "$1" ] || return 0
	mount -t tmpfs -o "mode=${2:-0755}" freddy-e2e "$1"
}

security=$(secdir)
module="${FREDDY_TOP_BUILDDIR:-.}/.libs/pam_freddy.so"
[ -f "$module" ] || { echo "sandbox.sh: no module at $module" >&2; exit 1; }

copy_over /etc || exit 1
copy_over "$security" || exit 1
copy_over /usr/share/pam-configs || exit 1
copy_over /var/lib/pam || exit 1
[ ! -d /var/cache/debconf ] || copy_over /var/cache/debconf || exit 1
fresh_tmpfs /run || exit 1
fresh_tmpfs /var/log || exit 1
[ ! -d /var/lib/sudo ] || fresh_tmpfs /var/lib/sudo 0711 || exit 1
mkdir -p "$sandbox/home" && chmod 0755 "$sandbox/home"

# The module is installed the way a package would install it, so the
# shipped PAM files can name it as plain "pam_freddy.so".
install -m 0644 "$module" "$security/pam_freddy.so" || exit 1

mounts_of_private_trees >"$sandbox/mounts.before"
if grep -q 'not private' "$sandbox/mounts.before"; then
	echo "sandbox.sh: could not make these private:" >&2
	grep 'not private' "$sandbox/mounts.before" >&2
	exit 1
fi
export FREDDY_E2E_SANDBOX="$sandbox"
"$@"
status=$?
if ! mounts_of_private_trees | cmp -s "$sandbox/mounts.before" -; then
	echo "FAIL: the test unmounted or replaced a private tree, so it may have written to the host:"
	mounts_of_private_trees | diff "$sandbox/mounts.before" - | head -20
	status=1
fi
exit $status
