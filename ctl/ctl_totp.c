/*
 * freddyctl totp enroll|remove: the local TOTP secrets of the freddy
 * (second_factor = totp) and jwt profiles, in pam_oath's users-file
 * format.  The file is rewritten atomically with every other line kept;
 * enrolment prints an otpauth:// URI and its QR code for a phone.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liboath/oath.h>

#include "hostlib/atomic_file.h"
#include "hostlib/totp_users.h"
#include "hostlib/user_name.h"
#include "ctl.h"
#include "ctl_l10n.h"
#include "ctl_qr.h"
#include "fr_error.h"

#define DEFAULT_USERS_FILE SYSCONFDIR "/freddy/totp_users"
#define SECRET_BYTES	   20 /* 160 bits, RFC 4226's recommendation for SHA-1 */
#define ISSUER		   "Freddy"

struct totp_opts {
	const char *users_file;
	const char *user;
	unsigned digits, step;
	int force;
};

static void
totp_usage(FILE *out)
{
	/* TRANSLATORS: PATH, SECONDS and USER are placeholders; keep the
	 * options and totp_users_file (a setting's name) as they are. */
	fprintf(out,
		_("Usage: freddyctl totp enroll [--users-file PATH] [--digits 6|7|8] [--step SECONDS] [--force] USER\n"
		  "       freddyctl totp remove [--users-file PATH] USER\n"
		  "\nThe users file defaults to %s (totp_users_file in freddy.conf).\n"),
		DEFAULT_USERS_FILE);
}

static int
parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
parse_args(int argc, char **argv, int enrolling, struct totp_opts *o)
{
	o->users_file = DEFAULT_USERS_FILE;
	o->digits = 6;
	o->step = 30;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--users-file") == 0 && i + 1 < argc) {
			o->users_file = argv[++i];
		} else if (enrolling && strcmp(a, "--digits") == 0 && i + 1 < argc) {
			if (parse_uint(argv[++i], 6, 8, &o->digits) != 0)
				return -1;
		} else if (enrolling && strcmp(a, "--step") == 0 && i + 1 < argc) {
			if (parse_uint(argv[++i], 15, 300, &o->step) != 0)
				return -1;
		} else if (enrolling && strcmp(a, "--force") == 0) {
			o->force = 1;
		} else if (a[0] == '-' || o->user != NULL) {
			return -1;
		} else {
			o->user = a;
		}
	}
	if (o->user == NULL || o->users_file[0] != '/')
		return -1;
	return 0;
}

/* The users file replaced atomically (hostlib/atomic_file.h): a crash
 * leaves the old file or the new one, never half of one. */
static int
replace_file(const char *path, const char *text, size_t len)
{
	char *dircopy = strdup(path), *namecopy = strdup(path);
	int r = -1;

	if (dircopy == NULL || namecopy == NULL) {
		ctl_error(_("out of memory"));
		goto out;
	}
	int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		ctl_error(_("cannot open the folder of %s: %s"), path, strerror(errno));
		goto out;
	}
	if (atomic_file_replace(dfd, basename(namecopy), text, len) != 0)
		ctl_error(_("cannot replace %s: %s"), path, strerror(errno));
	else
		r = 0;
	close(dfd);
out:
	free(dircopy);
	free(namecopy);
	return r;
}

/* The current file (empty when there is none yet); a file that fails the
 * ownership check is not silently replaced. */
static int
read_current(const char *path, char **text, size_t *len)
{
	char err[512];
	int r = totp_users_read(path, 0, text, len, err, sizeof(err));

	if (r == FR_ERR_NOT_FOUND) {
		*text = NULL;
		*len = 0;
		return 0;
	}
	if (r != 0) {
		ctl_error("%s", err);
		return -1;
	}
	return 0;
}

static void
free_secret_text(char *text, size_t len)
{
	if (text != NULL) {
		explicit_bzero(text, len);
		free(text);
	}
}

/* Percent-encode for the label and query of an otpauth URI. */
static void
uri_escape(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s != '\0' && n + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
}

static int
enroll(const struct totp_opts *o)
{
	unsigned char secret[SECRET_BYTES];
	char hex[2 * SECRET_BYTES + 1], line[256], label[400], uri[640];
	char *b32 = NULL, *cur = NULL, *next = NULL;
	size_t b32_len = 0, cur_len = 0, next_len = 0;
	unsigned removed = 0;
	int status = CTL_EXIT_FAILURE;
	struct totp_entry old;

	if (read_current(o->users_file, &cur, &cur_len) != 0)
		return CTL_EXIT_FAILURE;
	if (cur != NULL && !o->force &&
	    totp_users_find(cur, cur_len, o->user, o->step, o->digits, &old) != FR_ERR_NOT_FOUND) {
		totp_entry_wipe(&old);
		ctl_error(_("%s already has a line in %s; --force replaces it"), o->user, o->users_file);
		goto out;
	}
	if (getrandom(secret, sizeof(secret), 0) != (ssize_t)sizeof(secret)) {
		ctl_error(_("getrandom failed: %s"), strerror(errno));
		goto out;
	}
	oath_bin2hex((const char *)secret, sizeof(secret), hex);
	if (oath_base32_encode((const char *)secret, sizeof(secret), &b32, &b32_len) != OATH_OK) {
		ctl_error(_("cannot encode the secret"));
		goto out;
	}
	while (b32_len > 0 && b32[b32_len - 1] == '=')
		b32[--b32_len] = '\0';
	snprintf(line, sizeof(line), "HOTP/T%u/%u\t%s\t-\t%s", o->step, o->digits, o->user, hex);
	if (totp_users_rewrite(cur != NULL ? cur : "", cur_len, o->user, line, &next, &next_len, &removed) != 0) {
		ctl_error(_("%s cannot be rewritten (NUL byte or too large)"), o->users_file);
		goto out;
	}
	if (replace_file(o->users_file, next, next_len) != 0)
		goto out;
	uri_escape(o->user, label, sizeof(label));
	snprintf(uri, sizeof(uri),
		 "otpauth://totp/" ISSUER ":%s?secret=%s&issuer=" ISSUER "&algorithm=SHA1&digits=%u&period=%u", label,
		 b32, o->digits, o->step);
	(void)ctl_qr_print(uri); /* the URI below serves without it */
	if (removed > 0)
		printf(_("\nThe previous secret of %s was replaced.\n"), o->user);
	printf(_("\nScan the code above with an authenticator app, or enter this URI:\n%s\n"), uri);
	/* TRANSLATORS: a user name, then the users file. */
	printf(_("%s is enrolled in %s.\n"), o->user, o->users_file);
	status = CTL_EXIT_OK;
out:
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(hex, sizeof(hex));
	explicit_bzero(line, sizeof(line));
	explicit_bzero(uri, sizeof(uri));
	if (b32 != NULL) {
		explicit_bzero(b32, b32_len);
		free(b32);
	}
	free_secret_text(cur, cur_len);
	free_secret_text(next, next_len);
	return status;
}

static int
remove_user(const struct totp_opts *o)
{
	char *cur = NULL, *next = NULL;
	size_t cur_len = 0, next_len = 0;
	unsigned removed = 0;
	int status = CTL_EXIT_FAILURE;

	if (read_current(o->users_file, &cur, &cur_len) != 0)
		return CTL_EXIT_FAILURE;
	if (cur == NULL || totp_users_rewrite(cur, cur_len, o->user, NULL, &next, &next_len, &removed) != 0 ||
	    removed == 0) {
		ctl_error(_("%s is not enrolled in %s"), o->user, o->users_file);
		goto out;
	}
	if (replace_file(o->users_file, next, next_len) != 0)
		goto out;
	/* TRANSLATORS: a user name, then the users file. */
	printf(_("%s removed from %s.\n"), o->user, o->users_file);
	status = CTL_EXIT_OK;
out:
	free_secret_text(cur, cur_len);
	free_secret_text(next, next_len);
	return status;
}

/* One freddyctl at a time changes the users file: read, change and rename
 * must not interleave with another run's, or one run's change is lost
 * (two enrolments: one secret gone; a removal and an enrolment: the
 * removed secret, perhaps of a stolen phone, back).  The lock is a file of
 * its own next to the users file, since the rename replaces the users
 * file's inode.  Held until exit. */
static int
lock_users_file(const char *users_file)
{
	size_t n = strlen(users_file) + sizeof(".lock");
	char *path = malloc(n);
	struct stat st;

	if (path == NULL)
		return -1;
	snprintf(path, n, "%s.lock", users_file);
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		ctl_error(_("cannot open the lock %s: %s"), path, strerror(errno));
		free(path);
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022) != 0) {
		ctl_error(_("the lock %s is not a root-owned private file"), path);
		free(path);
		close(fd);
		return -1;
	}
	int r;
	while ((r = flock(fd, LOCK_EX)) != 0 && errno == EINTR)
		;
	if (r != 0) {
		ctl_error(_("cannot lock %s: %s"), path, strerror(errno));
		free(path);
		close(fd);
		return -1;
	}
	free(path);
	return fd;
}

int
ctl_totp_main(const struct ctl_context *ctx, int argc, char **argv)
{
	struct totp_opts o = { 0 };
	int enrolling;

	(void)ctx; /* the users file is local; the helper reads it at each login */
	if (argc < 2 || (strcmp(argv[1], "enroll") != 0 && strcmp(argv[1], "remove") != 0)) {
		totp_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	enrolling = strcmp(argv[1], "enroll") == 0;
	if (parse_args(argc, argv, enrolling, &o) != 0) {
		totp_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (!user_name_valid(o.user)) {
		ctl_error(_("\"%s\" is not a user name the helper accepts"), o.user);
		return CTL_EXIT_USAGE;
	}
	if (geteuid() != 0) {
		/* TRANSLATORS: %s is the subcommand, enroll or remove. */
		ctl_error(_("totp %s needs root"), argv[1]);
		return CTL_EXIT_PERMISSION;
	}
	/* The new file is created 0600 whatever the umask says. */
	umask(077);
	int lock = lock_users_file(o.users_file);
	if (lock < 0)
		return CTL_EXIT_FAILURE;
	int status = enrolling ? enroll(&o) : remove_user(&o);
	close(lock);
	return status;
}
