#!/bin/bash
# The packaged units under a real systemd: a Debian 12 minbase tree booted
# with systemd-nspawn (PID 1 of this machine need not be systemd), the
# freshly built .debs installed with dpkg -i, and the real manager checked:
# socket activation, logins as root and as a uid-1000 user against the
# emulator (run in the container's network namespace), the audit records
# in the journal (journalctl MESSAGE_ID=... FREDDY_USER=...) and in
# audit_log, rotated by the packaged logrotate file, freddyctl, reload
# with a good and a bad file, stop during a login, the start limit, purge.
# A CI-only drop-in SystemCallErrorNumber=kill makes every refused system
# call a visible failure; any seccomp kill, any error in the unit's journal
# that the test did not cause on purpose, or an exposure above 2.0 fails.
#
# The debootstrapped tree is cached as a tarball under
# /var/cache/pam-freddy-tests (FREDDY_TEST_CACHE), keyed on its package
# list; it is made here when absent (about a minute).  Needs root; the
# host is changed only in that cache folder.
# shellcheck source=tests/stages/lib.sh
source "$(dirname "$0")/lib.sh"
set -u -o pipefail
stage=75-systemd
pass=0 fail=0 skip=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

if [ "$(id -u)" != 0 ]; then
	echo "skip: a container needs root"
	record_counts $stage 0 0 1
	exit 0
fi
for prog in debootstrap systemd-nspawn nsenter flock; do
	command -v "$prog" >/dev/null || { echo "$prog is not installed"; record_counts $stage 0 1 0; exit 1; }
done

suite=bookworm
mirror=${FREDDY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What the tree holds besides minbase: the init system, the run-time
# libraries of the two packages, pamtester, logrotate (for the package's
# logrotate file).  No procps: the units must work without /bin/kill.
include="systemd,systemd-sysv,dbus,pamtester,libcurl4,libjansson4,liboath0,libqrencode4,logrotate"
cache=${FREDDY_TEST_CACHE:-/var/cache/pam-freddy-tests}
key=$(printf '%s\n' "$suite" minbase "$include" | sha256sum | cut -c1-16)
tarball="$cache/debootstrap-$suite-minbase-$key.tar"
work="$build_root/systemd"
root="$work/root"
tmp="$work/tmp"
nspawn_pid= leader= emu_pid= cgroups=()

cleanup() {
	[ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
	if [ -n "$nspawn_pid" ]; then
		kill -TERM "$nspawn_pid" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$nspawn_pid" 2>/dev/null
		wait "$nspawn_pid" 2>/dev/null
	fi
	local cg
	for cg in "${cgroups[@]}"; do
		[ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	[ -n "${FREDDY_KEEP_TMP:-}" ] || rm -rf "$root"
}
finish() {
	cleanup
	record_counts $stage $pass $fail $skip
	echo "$stage: $pass passed, $fail failed, $skip skipped"
	[ $fail -eq 0 ]
}
trap 'finish; exit $?' EXIT
trap 'exit 1' INT TERM

# ---- the cached tree ----------------------------------------------------------
started=$(date +%s)
mkdir -p "$cache" || exit 1
exec 9>"$cache/lock"
flock 9 || exit 1
if [ ! -s "$tarball" ]; then
	echo "no cached tree for this package list; debootstrap $suite (minbase + $include)"
	scratch=$(mktemp -d "$cache/build.XXXXXX")
	if debootstrap --variant=minbase --include="$include" "$suite" "$scratch/root" "$mirror" \
		>"$scratch/debootstrap.log" 2>&1 &&
		tar -C "$scratch/root" --numeric-owner -cf "$scratch/tree.tar" . &&
		mv "$scratch/tree.tar" "$tarball"; then
		rm -rf "$scratch"
	else
		tail -20 "$scratch/debootstrap.log"
		rm -rf "$scratch"
		bad "debootstrap a $suite minbase tree"
		exit 1
	fi
fi
flock -u 9
rm -rf "$work"
mkdir -p "$root" "$tmp" "$tmp/outbox"
tar -C "$root" --numeric-owner -xf "$tarball" || { bad "unpack $tarball"; exit 1; }
ok "a $suite minbase tree ($(basename "$tarball"), ready in $(($(date +%s) - started)) s)"
check "the tree has no /bin/kill (procps is not installed)" test ! -e "$root/bin/kill" -a ! -e "$root/usr/bin/kill"

# ---- the packages -------------------------------------------------------------
if build_packages; then
	ok "the packages of this tree are built"
else
	bad "dpkg-buildpackage"
	tail -40 "$build_root/pkg/build.log"
	exit 1
fi
mkdir -p "$root/root/debs"
cp "$build_root"/pkg/libpam-freddy_*.deb "$build_root"/pkg/freddy-helperd_*.deb "$root/root/debs/" || exit 1

echo freddy-ci >"$root/etc/hostname"
# The CI-only drop-in: a filtered system call kills the helper
# (status=31/SYS, an audit line in the kernel log) instead of failing
# quietly with EPERM.  In place before the package, so it applies from
# the first start.
mkdir -p "$root/etc/systemd/system/freddy-helperd.service.d"
printf '[Service]\nSystemCallErrorNumber=kill\n' >"$root/etc/systemd/system/freddy-helperd.service.d/ci.conf"

# ---- boot ------------------------------------------------------------------------
# systemd-nspawn wants cgroups of its own in both hierarchies.
for h in unified systemd; do
	[ -d "/sys/fs/cgroup/$h" ] && cgroups+=("/sys/fs/cgroup/$h/freddy-ci-$$")
done
seccomp_before=$(dmesg 2>/dev/null | grep -c 'type=1326')
(
	for cg in "${cgroups[@]}"; do
		mkdir -p "$cg" && echo "$BASHPID" >"$cg/cgroup.procs" || exit 1
	done
	export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1
	exec systemd-nspawn --quiet --boot --directory="$root" --register=no --keep-unit \
		--private-network --console=pipe
) >"$work/console.log" 2>&1 </dev/null &
nspawn_pid=$!
# The leader is the child of nspawn that became the container's systemd
# (nspawn forks a short-lived intermediate process first).
for _ in $(seq 200); do
	for leader in $(cat "/proc/$nspawn_pid/task/$nspawn_pid/children" 2>/dev/null); do
		[ "$(cat "/proc/$leader/comm" 2>/dev/null)" = systemd ] && break 2
	done
	leader=
	sleep 0.1
done
ct() { nsenter --target "$leader" --all -- "$@"; }
state=
for _ in $(seq 120); do
	[ -n "$leader" ] || break
	state=$(timeout 60 nsenter --target "$leader" --all -- systemctl is-system-running --wait 2>&1)
	case $state in running | degraded | maintenance) break ;; esac
	sleep 0.25	# its manager's socket is not there yet
done
if [ "$state" != running ]; then
	bad "the container boots (state: ${state:-none})"
	cat "$work/console.log"
	[ -n "$leader" ] && ct systemctl --failed --no-pager
	exit 1
fi
ok "the container's systemd reaches 'running'"
# cursor: where the journal is now; errors CURSOR: the unit's error lines
# logged after it (journald gets a moment to take in the latest lines).
cursor() { ct journalctl -n 1 --show-cursor -q -o cat | sed -n 's/^-- cursor: //p'; }
errors() { sleep 0.5; ct journalctl -u freddy-helperd.service -p err -o short-monotonic --no-pager -q --after-cursor="$1"; }

# ---- install ----------------------------------------------------------------------
boot_cursor=$(cursor)
[ -n "$boot_cursor" ] || { bad "no journal cursor"; exit 1; }
if ct sh -c 'dpkg -i /root/debs/*.deb' >"$work/install.log" 2>&1; then
	ok "dpkg -i of both packages"
else
	bad "dpkg -i of both packages"
	cat "$work/install.log"
	exit 1
fi
check "freddy-helperd.socket is enabled" ct systemctl -q is-enabled freddy-helperd.socket
check "freddy-helperd.socket is active after install" ct systemctl -q is-active freddy-helperd.socket
check "the socket exists, mode 0666" test "$(ct stat -c %F:%a /run/freddy/helperd.sock)" = socket:666
check "the service is not running before the first login" sh -c "! nsenter --target $leader --all -- systemctl -q is-active freddy-helperd.service"

# ---- the emulator, in the container's network namespace ---------------------------
sh "$top/tests/emulator/make-certs.sh" "$tmp/certs" >/dev/null 2>&1 || exit 1
install -D -m 0644 "$tmp/certs/ca.pem" "$root/usr/local/share/freddy-ci/ca.pem"
cat >"$tmp/users.json" <<'EOF'
{"users": [{"username": "alice", "email": "alice@example.com", "password": "Correct-Horse-1"},
           {"username": "root", "email": "root@example.com", "password": "Root-Horse-2"}]}
EOF
nsenter --target "$leader" --net -- /usr/bin/python3 "$top/tests/emulator/freddy_emulator.py" \
	--cert "$tmp/certs/server.pem" --key "$tmp/certs/server.key" --users "$tmp/users.json" \
	--outbox "$tmp/outbox" --port 0 --port-file "$tmp/emu.port" --api-key ci >"$work/emulator.log" 2>&1 &
emu_pid=$!
for _ in $(seq 100); do [ -s "$tmp/emu.port" ] && break; sleep 0.1; done
port=$(cat "$tmp/emu.port") || exit 1
conf() {
	cat >"$root/etc/freddy/freddy.conf" <<EOF
api = freddy
api_url = https://127.0.0.1:$port/v1
ca_file = /usr/local/share/freddy-ci/ca.pem
timeout = 5
$*
EOF
}
# The audit log where the packaged unit lets the helper write it.
conf "audit_log = /var/log/freddy/audit.log"
printf 'auth required pam_freddy.so\naccount required pam_permit.so\n' >"$root/etc/pam.d/freddy-ci"
ct useradd -m -u 1000 -s /bin/sh alice || exit 1

# login USER PASSWORD [setpriv args...]: pamtester inside, answering the
# password and then the code the emulator mailed.  Output in $work/login.out.
login() {
	local user=$1 password=$2 email
	shift 2
	email=$(sed -n "s/.*\"username\": \"$user\", \"email\": \"\\([^\"]*\\)\".*/\\1/p" "$tmp/users.json")
	rm -f "$tmp/outbox/$email.code"
	{
		echo "$password"
		for _ in $(seq 150); do [ -s "$tmp/outbox/$email.code" ] && break; sleep 0.1; done
		cat "$tmp/outbox/$email.code" 2>/dev/null || echo
	} | timeout 60 nsenter --target "$leader" --all -- "$@" pamtester freddy-ci "$user" authenticate >"$work/login.out" 2>&1
}

# ---- the first login starts the service through the socket ------------------------
login alice Correct-Horse-1
check "first login (alice, from root) succeeds through socket activation" grep -q 'successfully authenticated' "$work/login.out"
check "the service was started by it" ct systemctl -q is-active freddy-helperd.service
# One NAME=VALUE of the running service's environment.
helper_runs_with() {
	ct sh -c 'tr "\0" "\n" </proc/"$(systemctl show -P MainPID freddy-helperd.service)"/environ' | grep -qx "$1"
}
check "the unit's helper runs with GNUTLS_NO_IMPLICIT_INIT=1" helper_runs_with GNUTLS_NO_IMPLICIT_INIT=1
check "the helper reports the inherited socket" \
	sh -c "nsenter --target $leader --all -- journalctl -u freddy-helperd -o cat -q | grep -q 'ready on an inherited socket'"
login root Root-Horse-2
check "login as root succeeds" grep -q 'successfully authenticated' "$work/login.out"
login alice Correct-Horse-1 setpriv --reuid alice --regid alice --init-groups --reset-env --
check "login as uid 1000 by herself (screen-locker style) succeeds" grep -q 'successfully authenticated' "$work/login.out"
check "the helper saw the uid-1000 caller" \
	sh -c "nsenter --target $leader --all -- journalctl -u freddy-helperd -o cat -q | grep -q 'user=alice .*caller_uid=1000'"
# ---- audit records: the journal's own fields, and audit_log ---------------------
# The login_success MESSAGE_ID of freddy-helperd(8) and core/audit.c.
login_success_id=c0a130ed8cba41f2bcc79936ce630f73
sleep 0.5	# the records are written behind the login
ct journalctl MESSAGE_ID=$login_success_id FREDDY_USER=alice -o json --no-pager -q >"$work/journal.json" 2>&1
check "journalctl MESSAGE_ID=$login_success_id FREDDY_USER=alice finds alice's logins (root's and her own)" \
	test "$(grep -c . "$work/journal.json")" -ge 2
# has_entry FILE FIELD=VALUE...: one entry of journalctl -o json has them all.
has_entry() {
	/usr/bin/python3 -c '
import json, sys
want = dict(a.split("=", 1) for a in sys.argv[2:])
with open(sys.argv[1]) as f:
    entries = [json.loads(line) for line in f if line.startswith("{")]
sys.exit(0 if any(all(e.get(k) == v for k, v in want.items()) for e in entries) else 1)' "$@"
}
check "the entry has fields of its own (service, caller, factor, result, event)" \
	has_entry "$work/journal.json" FREDDY_SERVICE=freddy-ci FREDDY_CALLER_UID=1000 FREDDY_FACTOR=email_code \
	FREDDY_RESULT=success FREDDY_EVENT=login_success SYSLOG_IDENTIFIER=freddy-helperd PRIORITY=6
ct journalctl MESSAGE_ID=$login_success_id FREDDY_USER=root -o json --no-pager -q >"$work/journal-root.json" 2>&1
check "FREDDY_USER=root finds root's login alone" \
	sh -c "test \"\$(grep -c . '$work/journal-root.json')\" -eq 1 && ! grep -q '\"FREDDY_USER\":\"alice\"' '$work/journal-root.json'"
login_id=$(sed -n 's/.*"FREDDY_LOGIN_ID":"\([^"]*\)".*/\1/p' "$work/journal.json" | tail -1)
check "the journal's login id ($login_id) is in the LOG_AUTHPRIV line and in audit_log" \
	sh -c "test -n '$login_id' && nsenter --target $leader --all -- journalctl -u freddy-helperd -o cat -q | grep -q 'caller_uid=1000 login_id=$login_id ' && grep -q '\"login_id\":\"$login_id\"' '$root/var/log/freddy/audit.log'"
check "audit_log is 0600 in the unit's LogsDirectory /var/log/freddy (0700)" \
	test "$(stat -c %a "$root/var/log/freddy/audit.log") $(stat -c %a "$root/var/log/freddy")" = "600 700"
check "audit_log has a login_success line for alice from root" \
	grep -q '"event":"login_success","user":"alice","service":"freddy-ci","caller_uid":0,' "$root/var/log/freddy/audit.log"
echo wrong-password | timeout 60 nsenter --target "$leader" --all -- pamtester freddy-ci alice authenticate >/dev/null 2>&1
sleep 0.5
ct journalctl MESSAGE_ID=25d8dc055ede48c89377bb374264d59b FREDDY_USER=alice -o json --no-pager -q >"$work/journal-fail.json" 2>&1
check "a wrong password is a login_failure entry (auth_err, factor password, notice)" \
	has_entry "$work/journal-fail.json" FREDDY_RESULT=auth_err FREDDY_FACTOR=password PRIORITY=5
check "... with the API's trace_id" grep -q '"FREDDY_TRACE_ID":"req_' "$work/journal-fail.json"
check "no secret in audit_log" sh -c "! grep -q -e Correct-Horse-1 -e wrong-password -e Root-Horse-2 '$root/var/log/freddy/audit.log'"
# The packaged logrotate file: the log moves, the helper is told, a new
# file appears.
ct logrotate -f /etc/logrotate.d/freddy-helperd >"$work/logrotate.log" 2>&1
check "logrotate -f with the packaged file rotates audit_log" test -s "$root/var/log/freddy/audit.log.1"
for _ in $(seq 50); do [ -e "$root/var/log/freddy/audit.log" ] && break; sleep 0.1; done
check "the helper reopened a new audit_log (0600) on the postrotate SIGHUP" \
	test "$(stat -c %a "$root/var/log/freddy/audit.log" 2>/dev/null)" = 600
login alice Correct-Horse-1
sleep 0.5
check "the next login is recorded in the new file" grep -q '"event":"login_success"' "$root/var/log/freddy/audit.log"

check "the token cache is /var/lib/freddy, mode 0700" sh -c "test \"\$(stat -c %a '$root/var/lib/freddy')\" = 700"

# ---- freddyctl -------------------------------------------------------------------------
ct freddyctl status >"$work/status.out" 2>&1
check "freddyctl status: the API is reachable" grep -q '^api: reachable' "$work/status.out"
token=$(ct setpriv --reuid alice --regid alice --init-groups --reset-env -- freddyctl token 2>&1)
check "freddyctl token prints alice's cached access token" grep -qF -- "\"${token:-none}\"" "$root/var/lib/freddy/alice"

# ---- reload ------------------------------------------------------------------------------
pid_before=$(ct systemctl show -P MainPID freddy-helperd.service)
conf "max_code_attempts = 2"
c=$(cursor)
check "systemctl reload with a good file succeeds" ct systemctl reload freddy-helperd.service
check "the helper re-read its configuration" \
	sh -c "nsenter --target $leader --all -- journalctl -u freddy-helperd -o cat -q --after-cursor='$c' | grep -q 'configuration reloaded'"
conf "max_code_attempts = many"
c=$(cursor)
check "systemctl reload with a bad file fails" sh -c "! nsenter --target $leader --all -- systemctl reload freddy-helperd.service 2>/dev/null"
errs=$(errors "$c")
check "the bad file is named in the journal at error level: ${errs:-nothing}" grep -q 'freddy.conf:5' <<<"$errs"
check "the helper keeps running after a refused reload (same PID)" \
	test "$(ct systemctl show -P MainPID freddy-helperd.service)" = "$pid_before"
conf
ct systemctl reload freddy-helperd.service || bad "reload back to the good file"
unexpected=$(errors "$boot_cursor" | grep -v -e 'freddy.conf:5' -e 'Reload failed for freddy-helperd')
check "no unexpected error in the unit's journal so far${unexpected:+: $unexpected}" test -z "$unexpected"

# ---- stop while a login waits at the code prompt ------------------------------------------
rm -f "$tmp/outbox/alice@example.com.code" "$tmp/answers"
mkfifo "$tmp/answers"
timeout 60 nsenter --target "$leader" --all -- pamtester freddy-ci alice authenticate <"$tmp/answers" >"$work/stop-login.out" 2>&1 &
waiting=$!
exec 8>"$tmp/answers"
echo Correct-Horse-1 >&8
for _ in $(seq 150); do [ -s "$tmp/outbox/alice@example.com.code" ] && break; sleep 0.1; done
ct systemctl stop freddy-helperd.service 2>/dev/null &
stopping=$!
sleep 1
check "the helper is still finishing the login during the stop" \
	test "$(ct systemctl show -P ActiveState freddy-helperd.service)" = deactivating
cat "$tmp/outbox/alice@example.com.code" >&8
exec 8>&-
wait "$waiting"
check "the login waiting at the code prompt finished successfully" grep -q 'successfully authenticated' "$work/stop-login.out"
wait "$stopping"
check "the stop completed" test "$(ct systemctl show -P ActiveState freddy-helperd.service)" = inactive
check "the helper exited cleanly (status 0)" test "$(ct systemctl show -P ExecMainStatus freddy-helperd.service)" = 0

# ---- the sandbox as the manager applies it -------------------------------------------
score=$(ct systemd-analyze security freddy-helperd.service 2>&1 |
	sed -n 's/.*Overall exposure level for freddy-helperd.service: \([0-9.]*\).*/\1/p')
check "systemd-analyze security (running manager, with the CI drop-in): ${score:-?} <= 2.0" \
	awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }'
killed=$(ct journalctl -u freddy-helperd.service -o cat -q | grep -c 'status=31/SYS')
audit=$(($(dmesg 2>/dev/null | grep -c 'type=1326') - seccomp_before))
check "no seccomp kill (status=31/SYS: $killed, audit type=1326 lines: $audit)" test "$killed" -eq 0 -a "$audit" -le 0
unexpected=$(errors "$boot_cursor" | grep -v -e 'freddy.conf:5' -e 'Reload failed for freddy-helperd')
check "no unexpected error in the unit's journal${unexpected:+: $unexpected}" test -z "$unexpected"

# ---- a deliberately refused system call: visible, and the unit gives up -------------------
# The drop-ins are applied in name order, so zz-* overrides ci.conf.
# kill: the seccomp check above would see this one.
breaker="$root/etc/systemd/system/freddy-helperd.service.d/zz-break.conf"
printf '[Service]\nSystemCallFilter=~epoll_create epoll_create1\n' >"$breaker"
ct systemctl daemon-reload
c=$(cursor)
ct systemctl start freddy-helperd.service
for _ in $(seq 40); do
	ct journalctl -u freddy-helperd.service -o cat -q --after-cursor="$c" | grep -q 'status=31/SYS' && break
	sleep 0.25
done
check "a filtered system call under the CI drop-in is a seccomp kill (status=31/SYS)" \
	sh -c "nsenter --target $leader --all -- journalctl -u freddy-helperd.service -o cat -q --after-cursor='$c' | grep -q 'status=31/SYS'"
audit=$(($(dmesg 2>/dev/null | grep -c 'type=1326') - seccomp_before))
if dmesg >/dev/null 2>&1; then
	check "the kernel logged it (audit type=1326: $audit)" test "$audit" -gt 0
fi
ct systemctl stop freddy-helperd.service 2>/dev/null
ct systemctl reset-failed freddy-helperd.service freddy-helperd.socket
# EPERM: start-up fails with exit 71, which Restart=on-failure retries.
printf '[Service]\nSystemCallFilter=~epoll_create epoll_create1\nSystemCallErrorNumber=EPERM\n' >"$breaker"
ct systemctl daemon-reload
ct systemctl restart freddy-helperd.socket
t0=$(date +%s%N)
echo Correct-Horse-1 | timeout 60 nsenter --target "$leader" --all -- pamtester freddy-ci alice authenticate >"$work/loop-login.out" 2>&1
first_ms=$((($(date +%s%N) - t0) / 1000000))
starts=$(ct journalctl -u freddy-helperd.service -o cat -q --after-cursor="$c" | grep -c 'status=71/OSERR')
check "the login that met the failing helper ends in ${first_ms} ms (< 20 s, not the module's 30 s)" \
	test "$first_ms" -lt 20000
check "it is refused as unavailable" grep -q 'cannot retrieve authentication info' "$work/loop-login.out"
check "the unit gave up after $starts starts (start limit hit)" \
	sh -c "test $starts -le 5 && nsenter --target $leader --all -- systemctl show -P Result freddy-helperd.socket | grep -q service-start-limit-hit"
t0=$(date +%s%N)
echo Correct-Horse-1 | timeout 60 nsenter --target "$leader" --all -- pamtester freddy-ci alice authenticate >"$work/loop-login.out" 2>&1
next_ms=$((($(date +%s%N) - t0) / 1000000))
check "the next login fails fast with PAM_AUTHINFO_UNAVAIL (${next_ms} ms)" \
	sh -c "test $next_ms -lt 2000 && grep -q 'cannot retrieve authentication info' '$work/loop-login.out'"
rm -f "$breaker"
ct systemctl daemon-reload
ct systemctl reset-failed freddy-helperd.service freddy-helperd.socket
ct systemctl start freddy-helperd.socket
login alice Correct-Horse-1
check "after reset-failed and a fixed unit, logins work again" grep -q 'successfully authenticated' "$work/login.out"

# ---- purge ----------------------------------------------------------------------------------
rm -f "$root/etc/pam.d/freddy-ci"
if ct dpkg --purge libpam-freddy freddy-helperd >"$work/purge.log" 2>&1; then
	ok "dpkg --purge of both packages"
else
	bad "dpkg --purge of both packages"
	cat "$work/purge.log"
fi
rm -rf "$root/etc/systemd/system/freddy-helperd.service.d"	# the test's own drop-in
ct systemctl daemon-reload
left=$(cd "$root" && find etc lib usr var run -name '*freddy*' -not -path 'usr/local/share/freddy-ci*' 2>/dev/null)
check "nothing named freddy is left${left:+: $left}" test -z "$left"
check "no freddy unit is known to the manager" \
	sh -c "! nsenter --target $leader --all -- systemctl list-units --all --no-legend 'freddy*' | grep -q ."
check "no PAM stack names the module" sh -c "! grep -rq pam_freddy '$root/etc/pam.d'"
check "dpkg knows neither package" \
	sh -c "! nsenter --target $leader --all -- dpkg-query -W -f '\${Status}\n' libpam-freddy freddy-helperd 2>/dev/null | grep -qv not-installed"
echo "$stage: $(($(date +%s) - started)) s"
