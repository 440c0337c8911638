#!/bin/bash
# Self-test of tests/style/check-docs: a small tree that keeps every rule
# must pass, and each way of breaking one (a key or an argument the man
# page, or README's index, lacks or has twice or invents, a dead link or
# anchor) must fail with a line naming it.  A key added to the parser
# together with its man page entry and index name must pass unchanged.
# Prints one "ok"/"not ok" line per check; exits 1 if any check fails.
# ok and not_ok below always succeed, so "test && ok ... || not_ok ..." is
# an if/else here.
# The backticks in single quotes are Markdown, not commands.
# shellcheck disable=SC2015,SC2016
set -u
here=$(cd "$(dirname "$0")" && pwd)
checker="$here/check-docs"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-check-docs.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $*"; fail=$((fail + 1)); }

# A tree that keeps every rule: two keys, three arguments.
make_tree() {
	rm -rf "$tmp/tree"
	mkdir -p "$tmp/tree/helperd/core" "$tmp/tree/pam_module" "$tmp/tree/doc" "$tmp/tree/tests/bench"
	cat >"$tmp/tree/helperd/core/helper_config.c" <<'EOF'
static const struct key_def keys[] = {
	{ "socket", KEY_PATH, OFF(socket_path), 0, 0 },
	/* { "commented_out", KEY_BOOL, OFF(x), 0, 0 }, */
	{ "timeout", KEY_UINT, OFF(timeout), 1, 300 },
};
EOF
	cat >"$tmp/tree/pam_module/module_options.c" <<'EOF'
		if (strcmp(arg, "debug") == 0)
			opt->debug = 1;
		else if (strncmp(arg, "socket=", 7) == 0)
			r = copy_value(opt->socket_path, sizeof(opt->socket_path), arg + 7);
		else if (strcmp(arg, "fail_mode=safe") == 0)
			opt->fail_safe = 1;
EOF
	cat >"$tmp/tree/doc/freddy.conf.5" <<'EOF'
.TH FREDDY.CONF 5
.SH NAME
freddy.conf
.SH "CONNECTION AND API"
.TP
.B socket
Where the helper listens.
.TP
.B timeout
Seconds.
.RS
.TP
HTTP/1.1
not a key
.RE
.SH "SELF\-SERVICE BY PROFILE"
.TP
.B "api = freddy"
not a key either
.SH FILES
.TP
.I /etc/freddy/freddy.conf
This file.
.SH EXAMPLES
.TP
.B example
an example's tag is no key
EOF
	cat >"$tmp/tree/doc/pam_freddy.8" <<'EOF'
.TH PAM_FREDDY 8
.SH OPTIONS
.TP
.BI socket= PATH
The socket.
.TP
.B fail_mode=safe
Ignore.
.TP
.B debug
Debug.
.SH "RETURN VALUES"
.TP
.B PAM_SUCCESS
Yes.
.SH "PASSWORD CHANGES"
.TP
.B aius
not an argument
EOF
	cat >"$tmp/tree/README.md" <<'EOF'
# pam_freddy

See [design](doc/design.md#one-event-loop), [wire](./doc/protocol.md), [the bench](tests/bench/README.md),
[a man page](doc/pam_freddy.8), [the web](https://example.com/missing) and
[a heading here](#settings).

```
[not a link](nowhere.md)
```

## Settings

Described in `freddy.conf(5)`.

| section | keys |
|---|---|
| connection | `socket` `timeout` |

## PAM arguments

| group | arguments |
|---|---|
| socket | `socket=PATH` |
| other | `fail_mode=safe` `debug` |

## Documentation

`socket_group` here is not part of the index.
EOF
	cat >"$tmp/tree/doc/design.md" <<'EOF'
# Design

Back to the [README](../README.md#pam-arguments) and [`protocol`](protocol.md).

## One event loop

`[code span](gone.md)` is no link.
EOF
	echo '# Protocol' >"$tmp/tree/doc/protocol.md"
	echo '# Bench' >"$tmp/tree/tests/bench/README.md"
}

# run: the checker over the tree; sets out and rc.
run() {
	out=$("$checker" --root "$tmp/tree" 2>&1)
	rc=$?
}

# expect_fail WHAT PATTERN: the checker fails (1) with a line matching PATTERN.
expect_fail() {
	run
	if [ $rc -eq 1 ] && grep -Eq -- "$2" <<<"$out"; then
		ok "$1"
	else
		not_ok "$1 (exit $rc, wanted 1 and /$2/):"$'\n'"$out"
	fi
	make_tree
}

make_tree
run
[ $rc -eq 0 ] && ok "a tree that keeps the rules passes" || not_ok "good tree: exit $rc:"$'\n'"$out"
grep -q '2 config keys, 3 PAM arguments, 0 offence' <<<"$out" && ok "reads 2 keys and 3 arguments from the code" ||
	not_ok "wrong counts:"$'\n'"$out"

# ---- config keys against freddy.conf(5) --------------------------------------
sed -i '/^\.B timeout$/,/^Seconds\.$/d' "$tmp/tree/doc/freddy.conf.5"
expect_fail "a key missing from the man page fails" 'freddy.conf.5: key timeout is not described'

cat >>"$tmp/tree/doc/freddy.conf.5" <<'EOF'
.SH "MORE"
.TP
.B socket
Again.
EOF
expect_fail "a key described twice fails" 'freddy.conf.5:[0-9]+,[0-9]+: key socket is described 2 times'

cat >>"$tmp/tree/doc/freddy.conf.5" <<'EOF'
.SH "MORE"
.TP
.B no_such_key
Invented.
EOF
expect_fail "a key the parser does not know fails" 'describes key no_such_key, which the code does not parse'

# ---- PAM arguments against pam_freddy(8) --------------------------------------
sed -i 's/^\.B debug$/.B debugging/' "$tmp/tree/doc/pam_freddy.8"
expect_fail "an argument missing from the man page fails" 'pam_freddy.8: argument debug is not described'
sed -i 's/^\.B debug$/.B debug\n.TP\n.BI helper_user= NAME\nNot parsed here./' "$tmp/tree/doc/pam_freddy.8"
expect_fail "an argument the module does not parse fails" 'describes argument helper_user=, which the code does not parse'
sed -i 's/^\.SH OPTIONS$/.SH ARGUMENTS/' "$tmp/tree/doc/pam_freddy.8"
expect_fail "a pam_freddy(8) without OPTIONS fails" 'pam_freddy.8: no OPTIONS section'

# ---- README's index -----------------------------------------------------------
sed -i 's/| connection | `socket` `timeout` |/| connection | `socket` |/' "$tmp/tree/README.md"
expect_fail "a key missing from README's index fails" '"Settings" does not list the key timeout'
sed -i 's/| connection | `socket` `timeout` |/| connection | `socket` `timeout` `language` |/' "$tmp/tree/README.md"
expect_fail "README listing a key that does not exist fails" '"Settings" lists language, which is no key'
sed -i 's/| connection | `socket` `timeout` |/| connection | `socket` `timeout` `socket` |/' "$tmp/tree/README.md"
expect_fail "README listing a key twice fails" 'lists the key socket 2 times'
sed -i 's/ `debug` |/ |/' "$tmp/tree/README.md"
expect_fail "an argument missing from README's index fails" '"PAM arguments" does not list the argument debug'
sed -i 's/| socket | `socket=PATH` |/| socket | `socket=PATH` `timeout=SECONDS` |/' "$tmp/tree/README.md"
expect_fail "README listing an argument the module does not parse fails" 'lists timeout=SECONDS, which is no argument'
sed -i 's/^## Settings$/## Configuration/' "$tmp/tree/README.md"
expect_fail "a README without its Settings section fails" 'no "## Settings" section'

# ---- a key added to the parser, with its entry and its name: no change needed --
sed -i 's/^};$/\t{ "language", KEY_STRING, OFF(language), 0, 0 },\n};/' "$tmp/tree/helperd/core/helper_config.c"
run
[ $rc -eq 1 ] && grep -q 'key language is not described' <<<"$out" && grep -q 'does not list the key language' <<<"$out" &&
	ok "a new parser key without docs fails in both places" || not_ok "new key without docs:"$'\n'"$out"
sed -i 's/^\.SH FILES$/.SH LOCALISATION\n.TP\n.B language\nThe language.\n.SH FILES/' "$tmp/tree/doc/freddy.conf.5"
sed -i 's/| connection | `socket` `timeout` |/| connection | `socket` `timeout` |\n| localisation | `language` |/' "$tmp/tree/README.md"
run
[ $rc -eq 0 ] && grep -q '3 config keys' <<<"$out" && ok "a new parser key with its man entry and index name passes" ||
	not_ok "new key with docs:"$'\n'"$out"
make_tree

# ---- links ----------------------------------------------------------------------
echo 'See [the deploying guide](deploying.md).' >>"$tmp/tree/doc/design.md"
expect_fail "a link to a missing file fails" 'doc/design.md:[0-9]+: link deploying.md: no such file'
echo 'See [a section](protocol.md#framing).' >>"$tmp/tree/doc/design.md"
expect_fail "a link to a missing heading fails" 'link protocol.md#framing: doc/protocol.md has no heading #framing'
echo '## Framing and `tags`' >>"$tmp/tree/doc/protocol.md"
echo 'See [a section](protocol.md#framing-and-tags).' >>"$tmp/tree/doc/design.md"
run
[ $rc -eq 0 ] && ok "a link to a heading with markup passes (GitHub's anchor)" || not_ok "anchor with markup:"$'\n'"$out"
make_tree
echo 'Where [it goes](../../outside.md).' >>"$tmp/tree/README.md"
expect_fail "a link out of the tree fails" 'README.md:[0-9]+: link ../../outside.md leaves the tree'
echo 'A [bad anchor](#nowhere) here.' >>"$tmp/tree/README.md"
expect_fail "a link to a missing heading of the same file fails" 'link #nowhere: README.md has no heading #nowhere'
echo 'Broken [bench link](missing.md).' >>"$tmp/tree/tests/bench/README.md"
expect_fail "a dead link in tests/*/README.md fails" 'tests/bench/README.md:[0-9]+: link missing.md: no such file'

echo '# Automation' >"$tmp/tree/doc/automation.md"
expect_fail "a doc/*.md that README does not link fails" 'README.md: no link to doc/automation.md'
echo '# Automation' >"$tmp/tree/doc/automation.md"
echo 'Scripts: [automation](doc/automation.md#automation).' >>"$tmp/tree/README.md"
run
[ $rc -eq 0 ] && ok "a doc/*.md linked from README (with an anchor) passes" || not_ok "doc linked:"$'\n'"$out"
make_tree

# ---- a broken source is not a pass ----------------------------------------------
echo 'static const struct key_def keys[] = { };' >"$tmp/tree/helperd/core/helper_config.c"
run
[ $rc -eq 2 ] && ok "a parser table with no rows is an error (2), not a pass" || not_ok "empty table: exit $rc:"$'\n'"$out"
make_tree
rm "$tmp/tree/doc/pam_freddy.8"
run
[ $rc -eq 2 ] && ok "a missing man page is an error (2)" || not_ok "missing man page: exit $rc:"$'\n'"$out"

echo "test_check_docs: $pass passed, $fail failed"
[ $fail -eq 0 ]
