/* Local TOTP: the users-file parser and rewriter, liboath verification
 * against RFC 6238's test vectors, and replay state on disk. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fr_error.h"
#include "store/state_writer.h"
#include "crypto/totp.h"
#include "store/totp_replay.h"

#define P(s) s, strlen(s)
/* RFC 6238 appendix B, SHA-1 seed "12345678901234567890". */
#define RFC_HEX "3132333435363738393031323334353637383930"

static void
test_find(void)
{
	struct totp_entry e;
	const char *file = "# pam_oath users file\n"
			   "HOTP alice - 00112233445566778899\n"
			   "HOTP/T30 bob - " RFC_HEX "\n"
			   "HOTP/T60/8\tcarol\t-\t" RFC_HEX "\t0\t123456\t2026-01-01T00:00:00L\n"
			   "HOTP/T30 dave 1234 " RFC_HEX "\n"
			   "HOTP/T bobby - 3132\n"
			   "HOTP/T30 bob - ffff\n"
			   "HOTP/T30/9 erin - " RFC_HEX "\n"
			   "HOTP/T30 frank - 31323\n"
			   "HOTP/T30 gina - zz\n";

	CHECK(totp_users_find(P(file), "bob", 30, 6, &e) == 0);
	CHECK(e.step == 30 && e.digits == 6 && e.secret_len == 20 && memcmp(e.secret, "1234567890", 10) == 0);
	totp_entry_wipe(&e);
	CHECK(e.secret_len == 0 && e.secret[0] == 0);

	/* Explicit digits, tabs, pam_oath's trailing state fields ignored. */
	CHECK(totp_users_find(P(file), "carol", 30, 6, &e) == 0);
	CHECK(e.step == 60 && e.digits == 8);
	/* Config default digits when the type names none; default step for "HOTP/T". */
	CHECK(totp_users_find(P(file), "bob", 30, 7, &e) == 0 && e.digits == 7);
	CHECK(totp_users_find(P(file), "bobby", 45, 6, &e) == 0 && e.step == 45 && e.secret_len == 2);

	/* Counter-based HOTP, a PIN, bad digits, odd or non-hex secrets: refused. */
	CHECK(totp_users_find(P(file), "alice", 30, 6, &e) == FR_ERR_INVALID);
	CHECK(e.secret_len == 0);
	CHECK(totp_users_find(P(file), "dave", 30, 6, &e) == FR_ERR_INVALID);
	CHECK(totp_users_find(P(file), "erin", 30, 6, &e) == FR_ERR_INVALID);
	CHECK(totp_users_find(P(file), "frank", 30, 6, &e) == FR_ERR_INVALID);
	CHECK(totp_users_find(P(file), "gina", 30, 6, &e) == FR_ERR_INVALID);
	/* Names match whole fields only. */
	CHECK(totp_users_find(P(file), "bo", 30, 6, &e) == FR_ERR_NOT_FOUND);
	CHECK(totp_users_find(P(file), "nobody", 30, 6, &e) == FR_ERR_NOT_FOUND);
	CHECK(totp_users_find(P("# HOTP/T30 bob - " RFC_HEX "\n"), "bob", 30, 6, &e) == FR_ERR_NOT_FOUND);
	CHECK(totp_users_find(P(""), "bob", 30, 6, &e) == FR_ERR_NOT_FOUND);
	/* No newline at the end, CRLF line ends. */
	CHECK(totp_users_find(P("HOTP/T30 bob - " RFC_HEX), "bob", 30, 6, &e) == 0);
	CHECK(totp_users_find(P("HOTP/T30 bob - " RFC_HEX "\r\n"), "bob", 30, 6, &e) == 0);
	/* An embedded NUL poisons the whole file. */
	CHECK(totp_users_find("HOTP/T30 bob - 31\0x\n", 19, "bob", 30, 6, &e) == FR_ERR_INVALID);
	/* A secret longer than the cap. */
	char big[300];
	snprintf(big, sizeof(big), "HOTP/T30 bob - %0*d\n", 2 * TOTP_SECRET_MAX + 2, 0);
	CHECK(totp_users_find(P(big), "bob", 30, 6, &e) == FR_ERR_INVALID);
	totp_entry_wipe(&e);
}

static void
test_rewrite(void)
{
	char *out = NULL;
	size_t len = 0;
	unsigned removed = 9;
	const char *file = "# keep me\nHOTP/T30 bob - aa\nHOTP/T30 alice - bb\nHOTP/T30 bob - cc";

	CHECK(totp_users_rewrite(P(file), "bob", "HOTP/T30/6\tbob\t-\tdd", &out, &len, &removed) == 0);
	CHECK(removed == 2);
	CHECK(strcmp(out, "# keep me\nHOTP/T30 alice - bb\nHOTP/T30/6\tbob\t-\tdd\n") == 0);
	CHECK(len == strlen(out));
	free(out);

	CHECK(totp_users_rewrite(P(file), "alice", NULL, &out, &len, &removed) == 0);
	CHECK(removed == 1 && strcmp(out, "# keep me\nHOTP/T30 bob - aa\nHOTP/T30 bob - cc\n") == 0);
	free(out);

	CHECK(totp_users_rewrite(P(""), "bob", "HOTP/T30 bob - aa", &out, &len, &removed) == 0);
	CHECK(removed == 0 && strcmp(out, "HOTP/T30 bob - aa\n") == 0);
	free(out);

	CHECK(totp_users_rewrite(P(file), "bob", "a\nb", &out, &len, &removed) == FR_ERR_INVALID);
	CHECK(out == NULL);
	CHECK(totp_users_rewrite("a\0b", 3, "bob", NULL, &out, &len, &removed) == FR_ERR_INVALID);
}

static struct totp_entry
rfc_entry(unsigned digits)
{
	struct totp_entry e = { .step = 30, .digits = digits, .secret_len = 20 };

	memcpy(e.secret, "12345678901234567890", 20);
	return e;
}

static void
test_verify(void)
{
	struct totp_entry e8 = rfc_entry(8), e6 = rfc_entry(6);
	uint64_t counter = 99;

	/* RFC 6238 B: T=59 -> 94287082, T=1111111109 -> 07081804. */
	CHECK(totp_verify(&e8, "94287082", 59, 0, &counter) == 0 && counter == 1);
	CHECK(totp_verify(&e8, "07081804", 1111111109, 1, &counter) == 0 && counter == 37037036);
	CHECK(totp_verify(&e6, "287082", 59, 0, &counter) == 0 && counter == 1);
	/* The window: one step later still matches with window 1, not 0. */
	CHECK(totp_verify(&e6, "287082", 59 + 30, 1, &counter) == 0 && counter == 1);
	CHECK(totp_verify(&e6, "287082", 59 + 30, 0, &counter) == FR_ERR_INVALID && counter == 0);
	CHECK(totp_verify(&e6, "287082", 59 + 60, 1, &counter) == FR_ERR_INVALID);
	/* Wrong codes and wrong shapes. */
	CHECK(totp_verify(&e6, "287083", 59, 1, &counter) == FR_ERR_INVALID);
	CHECK(totp_verify(&e6, "94287082", 59, 1, &counter) == FR_ERR_INVALID);
	CHECK(totp_verify(&e8, "287082", 59, 1, &counter) == FR_ERR_INVALID);
	CHECK(totp_verify(&e6, "28708a", 59, 1, &counter) == FR_ERR_INVALID);
	CHECK(totp_verify(&e6, "", 59, 1, &counter) == FR_ERR_INVALID);
	struct totp_entry empty = { .step = 30, .digits = 6 };
	CHECK(totp_verify(&empty, "287082", 59, 1, &counter) == FR_ERR_INVALID);
}

/* What auth/totp_step.c does with a code: verify it, then record its step. */
static int
verify_and_record(struct totp_replay *rs, const struct totp_entry *e, const char *code, time_t now, unsigned window,
		  const char *user)
{
	uint64_t step = 0;
	int r = totp_verify(e, code, now, window, &step);

	return r != 0 ? r : totp_replay_record(rs, user, step);
}
static void
test_replay(void)
{
	char dir[] = "/tmp/test_totp.XXXXXX";
	struct totp_entry e6 = rfc_entry(6);
	struct totp_replay *rs;
	struct state_writer *w;
	uint64_t last = 7;
	char path[128];

	CHECK(mkdtemp(dir) != NULL);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0);
	CHECK(state_writer_new(dfd, dir, &w) == 0);
	CHECK(totp_replay_new(dfd, w, &rs) == 0);
	CHECK(totp_replay_load(dfd, "bob", &last) == 0 && last == 0);

	/* Accepted once; the same code again, even a step later, is a replay. */
	CHECK(verify_and_record(rs, &e6, "287082", 59, 1, "carol") == 0);
	CHECK(verify_and_record(rs, &e6, "287082", 59, 1, "carol") == FR_ERR_DUPLICATE);
	CHECK(verify_and_record(rs, &e6, "287082", 89, 1, "carol") == FR_ERR_DUPLICATE);
	/* Another user's state is separate; a wrong code records nothing. */
	CHECK(verify_and_record(rs, &e6, "000000", 59, 1, "dave") == FR_ERR_INVALID);
	CHECK(verify_and_record(rs, &e6, "287082", 59, 1, "dave") == 0);
	/* The step reaches the disk (private) and a new helper still refuses. */
	CHECK(state_writer_flush(w) == 0);
	CHECK(totp_replay_load(dfd, "carol", &last) == 0 && last == 1);
	snprintf(path, sizeof(path), "%s/.totp=carol", dir);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	totp_replay_free(rs);
	CHECK(totp_replay_new(dfd, w, &rs) == 0);
	CHECK(verify_and_record(rs, &e6, "287082", 59, 1, "carol") == FR_ERR_DUPLICATE);

	/* Corrupt state refuses rather than allows. */
	snprintf(path, sizeof(path), "%s/.totp=erin", dir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f != NULL) {
		fputs("12x\n", f);
		fclose(f);
	}
	chmod(path, 0600);
	CHECK(totp_replay_load(dfd, "erin", &last) == FR_ERR_INVALID);
	CHECK(verify_and_record(rs, &e6, "287082", 59, 1, "erin") == FR_ERR_IO);
	chmod(path, 0644);
	CHECK(totp_replay_load(dfd, "erin", &last) == FR_ERR_UNTRUSTED);
	totp_replay_free(rs);
	state_writer_free(w);
	close(dfd);

	const char *names[] = { ".totp=carol", ".totp=dave", ".totp=erin" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	CHECK(rmdir(dir) == 0);
}

static void
test_read(void)
{
	char dir[] = "/tmp/test_totp_read.XXXXXX";
	char path[128], err[512], *text = NULL;
	size_t len = 0;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/users", dir);
	CHECK(totp_users_read(path, 0, &text, &len, err, sizeof(err)) == FR_ERR_NOT_FOUND);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f != NULL) {
		fputs("HOTP/T30 bob - 3132\n", f);
		fclose(f);
	}
	chmod(path, 0640);
	CHECK(totp_users_read(path, (unsigned)geteuid(), &text, &len, err, sizeof(err)) == FR_ERR_UNTRUSTED);
	CHECK(strstr(err, path) != NULL);
	chmod(path, 0600);
	CHECK(totp_users_read(path, (unsigned)geteuid(), &text, &len, err, sizeof(err)) == 0);
	CHECK(len == 20 && text != NULL && strcmp(text, "HOTP/T30 bob - 3132\n") == 0);
	free(text);
	unlink(path);
	CHECK(rmdir(dir) == 0);
}

int
main(void)
{
	test_find();
	test_rewrite();
	test_verify();
	test_replay();
	test_read();
	return check_finish("test_totp");
}
