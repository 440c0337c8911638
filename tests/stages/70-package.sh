#!/bin/bash
# Build the Debian packages from a clean copy of the tree, check them with
# lintian, install them, log in through the INSTALLED module and helper
# (under systemd-socket-activate) against the emulator, then purge them and
# check that nothing is left behind and /etc/pam.d is as it was.
# Needs root; it changes the machine only between install and purge, and
# puts /etc/pam.d and /var/lib/pam back from a copy if anything goes wrong.
source "$(dirname "$0")/lib.sh"
set -u -o pipefail
stage=70-package
pass=0 fail=0 skip=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
skipped() { echo "skip: $*"; skip=$((skip + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

pkgs="libpam-freddy freddy-helperd"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
module=/lib/$multiarch/security/pam_freddy.so
service=/etc/pam.d/freddy-pkgtest
work="$build_root/pkg"
state="$build_root/pkg-state"

if [ "$(id -u)" != 0 ]; then
	skipped "package install test needs root"
	record_counts $stage 0 0 1
	exit 0
fi
for p in $pkgs; do
	if dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q ' installed'; then
		# Purging at the end would remove someone's real installation.
		echo "$p is installed on this machine; refusing to test (and purge) over it"
		record_counts $stage 0 1 0
		exit 1
	fi
done
if [ -e /etc/freddy ] || [ -e /var/lib/freddy ] || [ -e "$service" ]; then
	echo "/etc/freddy, /var/lib/freddy or $service exists already; refusing to test over it"
	record_counts $stage 0 1 0
	exit 1
fi

rm -rf "$state"
mkdir -p "$state"
tmp=$(mktemp -d /tmp/freddy-pkgtest.XXXXXX)
chmod 0755 "$tmp"
helper_pid= emu_pid=

pam_sums() { (cd /etc/pam.d && find . -type f -print0 | sort -z | xargs -0 md5sum); }
pam_sums >"$state/pam.d.before"
cp -a /etc/pam.d "$tmp/pam.d.saved"
cp -a /var/lib/pam "$tmp/varlibpam.saved"

cleanup() {
	[ -n "$helper_pid" ] && kill "$helper_pid" 2>/dev/null && wait "$helper_pid" 2>/dev/null
	[ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
	rm -f "$service"
	for p in $pkgs; do
		if dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -qv 'not-installed'; then
			DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $pkgs >/dev/null 2>&1 || dpkg --purge $pkgs >/dev/null 2>&1
			break
		fi
	done
	# Whatever happened, leave the PAM configuration as it was.
	if ! pam_sums | cmp -s - "$state/pam.d.before"; then
		echo "restoring /etc/pam.d and /var/lib/pam from the saved copy"
		rm -rf /etc/pam.d /var/lib/pam
		cp -a "$tmp/pam.d.saved" /etc/pam.d
		cp -a "$tmp/varlibpam.saved" /var/lib/pam
	fi
	rm -rf "$tmp" /run/freddy
}
finish() {
	cleanup
	record_counts $stage $pass $fail $skip
	echo "$stage: $pass passed, $fail failed, $skip skipped"
	[ $fail -eq 0 ]
}
trap 'finish; exit $?' EXIT
trap 'exit 1' INT TERM

# ---- build from a clean copy of the tree (tracked and new files) ----------
cd "$top" || exit 1
if build_packages; then
	ok "dpkg-buildpackage -us -uc -b"
else
	bad "dpkg-buildpackage -us -uc -b"
	tail -40 "$work/build.log"
	exit 1
fi
changes=$(ls "$work"/freddy-pam_*.changes)
lintian --fail-on error,warning "$changes" >"$work/lintian.log" 2>&1
status=$?
grep -v 'running with root privileges' "$work/lintian.log"
check "lintian: no errors or warnings" test $status -eq 0

# ---- install -----------------------------------------------------------------
if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	"$work"/libpam-freddy_*.deb "$work"/freddy-helperd_*.deb >"$work/install.log" 2>&1; then
	ok "apt-get install of both packages"
else
	bad "apt-get install of both packages"
	cat "$work/install.log"
	exit 1
fi
check "module installed at $module" test -f "$module"
check "pam-auth-update profile installed" test -f /usr/share/pam-configs/freddy
check "pam-auth-update knows the profile" grep -qx freddy /var/lib/pam/seen
check "installing changed no PAM stack (profile is off by default)" \
	sh -c "cd /etc/pam.d && md5sum --quiet -c '$state/pam.d.before'"
conf_mode=$(stat -c '%U:%G %a' /etc/freddy/freddy.conf)
check "freddy.conf is root-owned and not group/other-writable ($conf_mode)" \
	sh -c "stat -c %U:%a /etc/freddy/freddy.conf | grep -Eq '^root:[0-7][0145][0145]\$'"
check "freddy-helperd --check-config accepts the packaged file" /usr/sbin/freddy-helperd --check-config
check "freddyctl --version" sh -c "/usr/bin/freddyctl --version | grep -q '^freddyctl '"
check "the catalogues are installed in /usr/share/locale" \
	sh -c 'for l in de fr es; do test -f /usr/share/locale/$l/LC_MESSAGES/pam_freddy.mo || exit 1; done'
check "the installed freddyctl speaks German under LANG=de_DE.UTF-8" \
	sh -c "LC_ALL= LANGUAGE= LANG=de_DE.UTF-8 /usr/bin/freddyctl --help | grep -q '^Aufruf: freddyctl'"

verify=$(systemd-analyze verify /lib/systemd/system/freddy-helperd.socket \
	/lib/systemd/system/freddy-helperd.service 2>&1)
check "systemd-analyze verify is clean${verify:+: $verify}" test -z "$verify"
score=$(systemd-analyze security --offline=yes /lib/systemd/system/freddy-helperd.service 2>&1 |
	sed -n 's/.*Overall exposure level for freddy-helperd.service: \([0-9.]*\).*/\1/p')
check "exposure score ${score:-?} <= 2.0" awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }'
for page in pam_freddy.8 freddy-helperd.8 freddy.conf.5 freddyctl.1; do
	f=$(find /usr/share/man -name "$page.gz")
	warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$f" 2>&1 >/dev/null)
	check "man page $page installed and renders without warnings${warnings:+: $warnings}" \
		test -n "$f" -a -z "$warnings"
done

# ---- a login through the installed module and helper ------------------------
sh "$top/tests/emulator/make-certs.sh" "$tmp/certs" || exit 1
chmod 0644 "$tmp/certs/ca.pem"
mkdir -p "$tmp/outbox"
cat >"$tmp/users.json" <<'EOF'
{"users": [{"username": "alice", "email": "alice@example.com", "password": "Correct-Horse-1"}]}
EOF
/usr/bin/python3 "$top/tests/emulator/freddy_emulator.py" --cert "$tmp/certs/server.pem" \
	--key "$tmp/certs/server.key" --users "$tmp/users.json" --outbox "$tmp/outbox" \
	--port 0 --port-file "$tmp/emu.port" --api-key pkgtest >"$tmp/emulator.log" 2>&1 &
emu_pid=$!
for _ in $(seq 100); do [ -s "$tmp/emu.port" ] && break; sleep 0.1; done
port=$(cat "$tmp/emu.port") || exit 1
cat >/etc/freddy/freddy.conf <<EOF
api = freddy
api_url = https://127.0.0.1:$port/v1
ca_file = $tmp/certs/ca.pem
timeout = 5
EOF
mkdir -p -m 0755 /run/freddy
# The helper logs in local accounts only; alice is one through nss_wrapper,
# so this machine's /etc/passwd is left alone.
printf 'root:x:0:0:root:/root:/bin/sh\nalice:x:2001:2001:alice:/nonexistent:/bin/sh\n' >"$tmp/passwd"
printf 'root:x:0:\nalice:x:2001:\n' >"$tmp/group"
chmod 0644 "$tmp/passwd" "$tmp/group"
systemd-socket-activate -l /run/freddy/helperd.sock \
	-E LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libnss_wrapper.so \
	-E NSS_WRAPPER_PASSWD="$tmp/passwd" -E NSS_WRAPPER_GROUP="$tmp/group" \
	/usr/sbin/freddy-helperd >"$tmp/helper.log" 2>&1 &
helper_pid=$!
for _ in $(seq 100); do [ -S /run/freddy/helperd.sock ] && break; sleep 0.1; done
# The bare module name proves libpam finds it where the package put it.
printf 'auth required pam_freddy.so\naccount required pam_permit.so\n' >"$service"
{
	echo Correct-Horse-1
	for _ in $(seq 150); do [ -s "$tmp/outbox/alice@example.com.code" ] && break; sleep 0.1; done
	cat "$tmp/outbox/alice@example.com.code"
} | timeout 60 pamtester freddy-pkgtest alice authenticate >"$tmp/pamtester.log" 2>&1
status=$?
cat "$tmp/pamtester.log"
check "login through the installed module, helper and socket activation" \
	sh -c "test $status -eq 0 && grep -q 'successfully authenticated' '$tmp/pamtester.log'"
check "the helper cached the tokens in /var/lib/freddy (0700, file 0600)" \
	sh -c "test \"\$(stat -c %a /var/lib/freddy)\" = 700 && test \"\$(stat -c %a /var/lib/freddy/alice)\" = 600"
# The same login in German: the installed module sends the locale, the
# installed helper finds the installed catalogue.
rm -f "$tmp/outbox/alice@example.com.code"
{
	echo Correct-Horse-1
	for _ in $(seq 150); do [ -s "$tmp/outbox/alice@example.com.code" ] && break; sleep 0.1; done
	cat "$tmp/outbox/alice@example.com.code"
} | LANGUAGE=de timeout 60 pamtester freddy-pkgtest alice authenticate >"$tmp/pamtester-de.log" 2>&1
status=$?
check "a login in German through the installed packages" \
	sh -c "test $status -eq 0 && grep -q 'Passwort: ' '$tmp/pamtester-de.log' &&
		grep -q 'Code per E-Mail an a\*\*\*@example.com gesendet.' '$tmp/pamtester-de.log'"
kill -TERM "$helper_pid"
wait "$helper_pid"
check "the helper exits 0 on SIGTERM" test $? -eq 0
helper_pid=
# No helper: the module's own text, from the installed catalogue.
echo x | LANGUAGE=de timeout 30 pamtester freddy-pkgtest alice authenticate >"$tmp/pamtester-down.log" 2>&1
check "with no helper the installed module says so in German" \
	grep -q 'Authentifizierungsdienst nicht verfügbar' "$tmp/pamtester-down.log"
rm -f "$service"

# ---- enable the profile, then purge: the stacks must lose it first ----------
DEBIAN_FRONTEND=noninteractive pam-auth-update --package --enable freddy
if grep -q pam_freddy.so /etc/pam.d/common-auth; then
	ok "pam-auth-update --enable freddy puts the module in common-auth"
	enabled=1
else
	skipped "this machine's common-auth is not managed by pam-auth-update"
	enabled=0
fi
# Remove (not purge) first: only prerm can have taken the module out of
# the stacks then, before dpkg deleted the file.
if DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq libpam-freddy >"$work/remove.log" 2>&1; then
	ok "apt-get remove libpam-freddy"
else
	bad "apt-get remove libpam-freddy"
	cat "$work/remove.log"
fi
check "after remove no stack names pam_freddy and the module is gone" \
	sh -c "! grep -rq pam_freddy /etc/pam.d && test ! -e '$module'"
if DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $pkgs >"$work/purge.log" 2>&1; then
	ok "apt-get purge of both packages"
else
	bad "apt-get purge of both packages"
	cat "$work/purge.log"
fi
check "/etc/pam.d is exactly as before" \
	sh -c "pam_sums() { cd /etc/pam.d && find . -type f -print0 | sort -z | xargs -0 md5sum; }; pam_sums | cmp -s - '$state/pam.d.before'"
check "no /etc/freddy left" test ! -e /etc/freddy
check "no /var/lib/freddy left" test ! -e /var/lib/freddy
check "no /run/freddy left" test ! -e /run/freddy
check "no module file left" test ! -e "$module"
check "no pam-auth-update profile left" test ! -e /usr/share/pam-configs/freddy
check "pam-auth-update forgot the profile" sh -c '! grep -qx freddy /var/lib/pam/seen'
check "dpkg knows neither package any more" \
	sh -c "! dpkg-query -W -f '\${Status}\n' $pkgs 2>/dev/null | grep -qv not-installed"
check "no unit files left" sh -c '! ls /lib/systemd/system/freddy-helperd.* /etc/systemd/system/*/freddy-helperd.* 2>/dev/null | grep -q .'
