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
# The places that are not copied (/root, /home, /var/mail) are overlays:
# what a test writes there lands in the sandbox, never on the host.  Two
# checks, both about what the test did through its own namespace, so that
# they hold on a busy machine too (another sshd or greeter logging failures
# into btmp, wtmp and auth.log, a package install, a root shell's history):
# - the private mounts are listed before the test and again after it: a
#   test that unmounted or replaced one (the only way its writes could reach
#   the host) fails;
# - anything a test wrote into the overlays fails it: it would have changed
#   the host without the sandbox.
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
	overlaid_trees
}

# The places a test reaches directly, made overlays on the host's folders.
overlaid_trees() {
	local d
	for d in /root /home /var/mail; do
		[ ! -d "$d" ] || echo "$d"
	done
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
	# A PID namespace too: whatever the test leaves running (a helper, an
	# sshd after a failed set-up) dies with it.
	exec unshare --mount --propagation private --pid --fork --mount-proc -- \
		env FREDDY_E2E_SANDBOX=pending "$0" "$@"
fi

# Inside the private mount namespace from here on.
[ "$FREDDY_E2E_SANDBOX" = pending ] || { echo "sandbox.sh: nested call" >&2; exit 1; }
sandbox=$(mktemp -d /tmp/freddy-e2e.XXXXXX) || exit 1
chmod 0755 "$sandbox"
cleanup() {
	while read -r d; do umount "$d" 2>/dev/null; done < <(overlaid_trees)
	rm -rf "$sandbox"
}
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
while read -r d; do
	mkdir -p "$sandbox/upper$d" "$sandbox/work$d" &&
		mount -t overlay freddy-e2e -o "lowerdir=$d,upperdir=$sandbox/upper$d,workdir=$sandbox/work$d" "$d" ||
		exit 1
done < <(overlaid_trees)

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
written=$(while read -r d; do find "$sandbox/upper$d" -mindepth 1 | sed "s|^$sandbox/upper||"; done < <(overlaid_trees) | LC_ALL=C sort)
if [ -n "$written" ]; then
	echo "FAIL: the test changed the host outside its temporary folder (kept from the host by the sandbox):"
	echo "$written" | head -40
	status=1
fi
exit $status
