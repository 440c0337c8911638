#!/bin/bash
# Self-test of tests/style/check-banned: it must report every banned call
# in the bad samples, at the right line and with the right name, and
# nothing in the good samples (comments, strings, character literals,
# header names, members and identifiers that only contain a banned name).
# Prints one "ok"/"not ok" line per check; exits 1 if any check fails.
# ok and not_ok below always succeed, so "test && ok ... || not_ok ..." is
# an if/else here.
# shellcheck disable=SC2015
set -u
here=$(cd "$(dirname "$0")" && pwd)
checker="$here/check-banned"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-check-banned.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $*"; fail=$((fail + 1)); }

# run FILE...: the checker over FILEs with $tmp as the tree's top; sets
# out (its report) and rc.
run() {
	out=$(cd "$tmp" && "$checker" --root "$tmp" "$@" 2>&1)
	rc=$?
}

# ---- every banned function, each in one line of its own -------------------
# NAME<TAB>code using it.  The brief's list first, then the additions.
mkdir -p "$tmp/helperd" "$tmp/pam_module" "$tmp/common"
cat >"$tmp/cases" <<'EOF'
strcpy	strcpy(dst, src);
strcat	strcat(dst, src);
sprintf	n = sprintf(buf, "%d", v);
vsprintf	vsprintf(buf, fmt, ap);
gets	if (gets(line) == NULL) return;
strtok	for (p = strtok(s, " "); p != NULL; p = strtok(NULL, " ")) n++;
atoi	n = atoi(arg);
atol	l = atol (arg);
atoll	ll = atoll(arg);
system	(void)system("true");
popen	f = popen(cmd, "r");
tmpnam	tmpnam(name);
mktemp	mktemp(tmpl);
sscanf	if (sscanf(s, "%u", &u) != 1) return;
alloca	p = alloca(n);
rand	x = rand() % 6;
srand	srand((unsigned)time(NULL));
stpcpy	e = stpcpy(dst, src);
strncpy	strncpy(dst, src, sizeof(dst));
strncat	strncat(dst, src, 4);
stpncpy	stpncpy(dst, src, 4);
getwd	getwd(buf);
atof	d = atof(arg);
scanf	scanf("%s", buf);
fscanf	fscanf(f, "%d", &v);
vscanf	vscanf(fmt, ap);
vsscanf	vsscanf(s, fmt, ap);
vfscanf	vfscanf(f, fmt, ap);
asctime	s = asctime(tm);
ctime	s = ctime(&t);
gmtime	tm = gmtime(&t);
localtime	tm = localtime(&t);
asctime_r	asctime_r(tm, buf);
ctime_r	ctime_r(&t, buf);
getpwnam	pw = getpwnam(user);
getpwuid	pw = getpwuid(uid);
getgrnam	gr = getgrnam(group);
getgrgid	gr = getgrgid(gid);
getpwent	pw = getpwent();
getgrent	gr = getgrent();
crypt	h = crypt(pw, salt);
execlp	execlp("sh", "sh", "-c", cmd, (char *)NULL);
execvp	execvp(argv[0], argv);
execvpe	execvpe(argv[0], argv, envp);
tempnam	name = tempnam(NULL, "fr");
__builtin_alloca	p = __builtin_alloca(n);
rand_r	x = rand_r(&seed);
random	x = random();
srandom	srandom(seed);
drand48	d = drand48();
erand48	d = erand48(xs);
lrand48	l = lrand48();
nrand48	l = nrand48(xs);
mrand48	l = mrand48();
jrand48	l = jrand48(xs);
srand48	srand48(seed);
getlogin	name = getlogin();
getlogin_r	getlogin_r(buf, sizeof(buf));
cuserid	cuserid(buf);
strcpy	qsort_like(v, n, strcpy);
rand	int (*pick)(void) = rand;
atoi	conv = &atoi;
sprintf	(sprintf)(buf, "x");
strcat	return strcat;
strcpy	#define COPY(d, s) strcpy(d, s)
EOF
{
	echo '#include <stdio.h>'
	while IFS=$'\t' read -r name code; do
		echo "$code"
	done <"$tmp/cases"
} >"$tmp/helperd/bad.c"
run helperd/bad.c
[ $rc -eq 1 ] && ok "bad samples: exit status 1" || not_ok "bad samples: exit status $rc, expected 1"
line=1
while IFS=$'\t' read -r name code; do
	line=$((line + 1))
	if grep -q "^helperd/bad.c:$line: $name: " <<<"$out"; then
		ok "catches $name: $code"
	else
		not_ok "misses $name at line $line: $code"
	fi
done <"$tmp/cases"
reported=$(grep -c '^helperd/bad.c:[0-9]*: ' <<<"$out")
expected=$(($(wc -l <"$tmp/cases") + 1))	# the strtok line uses it twice
[ "$reported" -eq "$expected" ] && ok "bad samples: $reported reports, one per use" ||
	not_ok "bad samples: $reported reports, expected $expected:"$'\n'"$out"

# ---- forms the compiler sees as a call, though a line-based grep would not --
cat >"$tmp/helperd/forms.c" <<'EOF'
static void
f(char *d, const char *s)
{
	str\
cpy(d, s);
	memset(d, 0, 1); /* a comment */ strcat(d, s);
	log("a \"quoted\" string", 'x'); sprintf(d, "%s", s);
	log('"'); atoi(s);
	call(a,
	     atol(s));
}
EOF
run helperd/forms.c
for want in "4: strcpy" "6: strcat" "7: sprintf" "8: atoi" "10: atol"; do
	grep -q "^helperd/forms.c:${want}: " <<<"$out" && ok "line-splice/comment/string edge: finds line $want" ||
		not_ok "line-splice/comment/string edge: misses line $want:"$'\n'"$out"
done
[ "$(grep -c '^helperd/forms.c:' <<<"$out")" -eq 5 ] && ok "edge forms: exactly 5 reports" ||
	not_ok "edge forms: wrong number of reports:"$'\n'"$out"

# ---- false positives: none of these is a use --------------------------------
cat >"$tmp/helperd/good.c" <<'EOF'
#include <alloca.h>
#include "system.h"
/* strcpy(dst, src) would overflow; sprintf too.  gets() is gone. */
// atoi(s), rand(), system("rm -rf /"), popen(...)
/*
 * A block comment over lines:
 *	strtok(s, " ");
 *	sscanf(s, "%d", &v);
 */
// a line comment continued onto the next line \
   strcat(dst, src);
static const char *msg = "do not call strcpy(a, b) or sprintf(buf, ...)";
static const char *esc = "\"gets(line)\" and \\" ; static char q = '"'; /* " atoi( */
static const char apos = '\''; /* ' rand( */
struct config { int system; int rand; const char *mktemp; };
static int
secret_strndup(const char *s, int n)
{
	return n;
}
static int
fr_text_sanitize(char *s)
{
	return s[0];
}
static int
g(struct config *cfg, struct config c, char *d, const char *s, long *l, unsigned long *u, struct tm *tm, time_t t)
{
	cfg->system = 1;
	c.rand = 2;
	cfg->ops->system(cfg);		/* a member that points to a function */
	c.ops.rand(&c);
	struct config k = { .system = 0, .rand = 1, .mktemp = "x" };
	snprintf(d, 8, "%s", s);
	vsnprintf(d, 8, s, ap);
	*l = strtol(s, NULL, 10);
	*u = strtoul(s, NULL, 10);
	strtok_r(d, " ", &save);
	fgets(d, 8, stdin);
	strndup(s, 3);
	my_strcpy(d, s);
	strcpy_checked(d, s);
	xatoi(s);
	system_store(s);
	random_bytes(d, 8);
	getrandom(d, 8, 0);
	gmtime_r(&t, tm);
	localtime_r(&t, tm);
	crypt_r(s, s, &data);
	crypt_rn(s, s, &data, sizeof(data));
	getpwnam_r(s, &pw, d, 8, &res);
	getgrnam_r(s, &gr, d, 8, &gres);
	mkstemp(d);
	execve("/bin/true", argv, envp);
	int atoi_result = 0, srand_seed = 1;
	return 1e5 + 0x1fp3 + atoi_result + srand_seed + secret_strndup(s, 1) + fr_text_sanitize(d) + k.system;
}
EOF
run helperd/good.c
[ $rc -eq 0 ] && ok "good samples: nothing reported" || not_ok "good samples: reported (exit $rc):"$'\n'"$out"

# ---- module scope: process-wide calls only under pam_module/ and common/ ---
cat >"$tmp/helperd/daemon.c" <<'EOF'
static void
start(void)
{
	const char *fds = getenv("LISTEN_FDS");
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		exit(1);
	openlog("freddy-helperd", LOG_PID, LOG_AUTHPRIV);
	umask(077);
}
EOF
cp "$tmp/helperd/daemon.c" "$tmp/pam_module/module.c"
cp "$tmp/helperd/daemon.c" "$tmp/common/shared.c"
run helperd/daemon.c
[ $rc -eq 0 ] && ok "helper may read its environment, set signals, exit, openlog, umask" ||
	not_ok "helper scope: reported (exit $rc):"$'\n'"$out"
for f in pam_module/module.c common/shared.c; do
	run "$f"
	for want in "4: getenv" "5: signal" "6: exit" "7: openlog" "8: umask"; do
		grep -q "^$f:${want}: module: " <<<"$out" && ok "$f: catches line $want" ||
			not_ok "$f: misses line $want:"$'\n'"$out"
	done
done

# ---- exemption markers ---------------------------------------------------------
cat >"$tmp/helperd/exempt.c" <<'EOF'
static void
h(char *d, const char *s, unsigned *v)
{
	sscanf(s, "%2x", v); /* banned-ok(sscanf): two hex digits of a fixed-width field, checked after */
	strcpy(d, "x"); // banned-ok(strcpy): one byte and NUL into a buffer of 8
	strcpy(d, s); /* banned-ok(strcpy) */
	strcat(d, s); /* banned-ok(strcpy): names the wrong function */
	snprintf(d, 8, "%s", s); /* banned-ok(sprintf): nothing banned on this line any more */
	atoi(s); atol(s); /* banned-ok(atoi): only atoi is excused here */
}
EOF
run helperd/exempt.c
grep -q '^helperd/exempt.c:4:' <<<"$out" && not_ok "marker with a reason: line 4 still reported" ||
	ok "marker with a reason exempts that call (block comment)"
grep -q '^helperd/exempt.c:5:' <<<"$out" && not_ok "marker with a reason: line 5 still reported" ||
	ok "marker with a reason exempts that call (line comment)"
grep -q '^helperd/exempt.c:6: banned-ok(strcpy) needs a reason' <<<"$out" &&
	grep -q '^helperd/exempt.c:6: strcpy: ' <<<"$out" && ok "marker without a reason is an error and exempts nothing" ||
	not_ok "marker without a reason:"$'\n'"$out"
grep -q '^helperd/exempt.c:7: strcat: ' <<<"$out" && grep -q '^helperd/exempt.c:7: banned-ok(strcpy) marks a line' <<<"$out" &&
	ok "marker naming another function exempts nothing and is reported" || not_ok "marker for the wrong name:"$'\n'"$out"
grep -q '^helperd/exempt.c:8: banned-ok(sprintf) marks a line that does not use' <<<"$out" &&
	ok "stale marker is reported" || not_ok "stale marker:"$'\n'"$out"
grep -q '^helperd/exempt.c:9: atol: ' <<<"$out" && ! grep -q '^helperd/exempt.c:9: atoi: ' <<<"$out" &&
	ok "marker covers only the name it gives" || not_ok "marker scope:"$'\n'"$out"
[ $rc -eq 1 ] && ok "exemption file: exit status 1" || not_ok "exemption file: exit status $rc"

# ---- usage -------------------------------------------------------------------
run --bogus
[ $rc -eq 2 ] && ok "unknown option: exit status 2" || not_ok "unknown option: exit status $rc"
run helperd/missing.c
[ $rc -eq 2 ] && ok "missing file: exit status 2" || not_ok "missing file: exit status $rc"
out=$("$checker" --list)
missing=
for name in strcpy strcat sprintf vsprintf gets strtok atoi atol atoll system popen tmpnam mktemp sscanf alloca rand srand; do
	grep -qw -- "$name" <<<"$out" || missing+=" $name"
done
[ -z "$missing" ] && ok "--list names every function of the brief" || not_ok "--list lacks$missing"

echo "test_check_banned: $pass passed, $fail failed"
[ $fail -eq 0 ]
