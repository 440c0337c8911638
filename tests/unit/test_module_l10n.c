/* The module's side of the language (pam_module/module_l10n.c): which
 * locale it sends, through a real libpam handle, and its own text from a
 * catalogue folder laid out as $(localedir). */
#include "config.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "check.h"
#include "module_l10n.h"

static int
no_conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	(void)n;
	(void)msg;
	(void)resp;
	(void)data;
	return PAM_CONV_ERR;
}

static void
clear_environment(void)
{
	unsetenv("LANGUAGE");
	unsetenv("LC_ALL");
	unsetenv("LC_MESSAGES");
	unsetenv("LANG");
}

/* The locale the module would send, or "(none)". */
static const char *
sent(pam_handle_t *pamh)
{
	static char buf[FR_LOCALE_MAX + 1];
	const char *s = module_l10n_locale(pamh, buf);

	return s != NULL ? s : "(none)";
}

static void
test_which_locale(void)
{
	const struct pam_conv conv = { no_conversation, NULL };
	pam_handle_t *pamh = NULL;

	CHECK(pam_start("freddy-l10n-test", "alice", &conv, &pamh) == PAM_SUCCESS);
	clear_environment();
	CHECK(strcmp(sent(pamh), "(none)") == 0);
	setenv("LANG", "es_ES.UTF-8", 1);
	CHECK(strcmp(sent(pamh), "es_ES.UTF-8") == 0);
	setenv("LC_MESSAGES", "fr_FR.UTF-8", 1);
	CHECK(strcmp(sent(pamh), "fr_FR.UTF-8") == 0);
	setenv("LC_ALL", "de_AT.UTF-8", 1);
	CHECK(strcmp(sent(pamh), "de_AT.UTF-8") == 0);
	setenv("LANGUAGE", "it:de", 1);
	CHECK(strcmp(sent(pamh), "it:de") == 0);
	/* LANGUAGE does not override a C locale, as in gettext. */
	setenv("LC_ALL", "C", 1);
	CHECK(strcmp(sent(pamh), "C") == 0);
	setenv("LC_ALL", "C.UTF-8", 1);
	CHECK(strcmp(sent(pamh), "it:de") == 0);
	setenv("LANGUAGE", "", 1); /* empty is unset */
	CHECK(strcmp(sent(pamh), "C.UTF-8") == 0);
	setenv("LC_ALL", "de_DE.UTF-8; rm -rf /", 1);
	CHECK(strcmp(sent(pamh), "(none)") == 0);

	/* The PAM environment, when it has any of the four, is the one. */
	clear_environment();
	setenv("LANGUAGE", "de", 1);
	CHECK(pam_putenv(pamh, "LANG=fr_FR.UTF-8") == PAM_SUCCESS);
	CHECK(strcmp(sent(pamh), "fr_FR.UTF-8") == 0);
	CHECK(pam_putenv(pamh, "LANGUAGE=es") == PAM_SUCCESS);
	CHECK(strcmp(sent(pamh), "es") == 0);
	/* An invalid one there is not made up for from the process. */
	CHECK(pam_putenv(pamh, "LANGUAGE") == PAM_SUCCESS);
	CHECK(pam_putenv(pamh, "LANG=../../etc/x") == PAM_SUCCESS);
	CHECK(strcmp(sent(pamh), "(none)") == 0);
	CHECK(pam_putenv(pamh, "LANG") == PAM_SUCCESS);
	CHECK(strcmp(sent(pamh), "de") == 0);
	clear_environment();
	CHECK(pam_end(pamh, PAM_SUCCESS) == PAM_SUCCESS);
}

static int
copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	FILE *in = fopen(from, "rb");
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0600);
	size_t n;
	int r = in != NULL && out >= 0 ? 0 : -1;

	while (r == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (write(out, buf, n) != (ssize_t)n)
			r = -1;
	if (out >= 0 && fchmod(out, mode) != 0)
		r = -1;
	if (in != NULL)
		fclose(in);
	if (out >= 0)
		close(out);
	return r;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
test_own_text(void)
{
	char dir[] = "/tmp/test_module_l10n.XXXXXX", path[512], from[512], text[256];
	const char *msgid = "Authentication service unavailable";

	CHECK(mkdtemp(dir) != NULL);
	const char *langs[] = { "de", "fr" };
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, langs[i]);
		CHECK(mkdir(path, 0755) == 0);
		snprintf(path, sizeof(path), "%s/%s/LC_MESSAGES", dir, langs[i]);
		CHECK(mkdir(path, 0755) == 0);
		snprintf(path, sizeof(path), "%s/%s/LC_MESSAGES/pam_freddy.mo", dir, langs[i]);
		snprintf(from, sizeof(from), "%s/po/%s.gmo", TOP_SRCDIR, langs[i]);
		/* fr is writable by its group: someone else's words. */
		CHECK(copy_file(from, path, i == 0 ? 0644 : 0664) == 0);
	}
	/* Only root's catalogues count: run as root (CI), the German one is
	 * used; run as anyone else, it is not theirs to trust, and the
	 * text stays English. */
	const char *german = geteuid() == 0 ? "Authentifizierungsdienst nicht verfügbar" : msgid;
	module_l10n_text(dir, "de_DE.UTF-8", msgid, text, sizeof(text));
	CHECK(strcmp(text, german) == 0);
	module_l10n_text(dir, "ja:de", msgid, text, sizeof(text));
	CHECK(strcmp(text, german) == 0);
	module_l10n_text(dir, "fr", msgid, text, sizeof(text));
	CHECK(strcmp(text, msgid) == 0);
	module_l10n_text(dir, "C:de", msgid, text, sizeof(text));
	CHECK(strcmp(text, msgid) == 0);
	module_l10n_text(dir, NULL, msgid, text, sizeof(text));
	CHECK(strcmp(text, msgid) == 0);
	module_l10n_text(dir, "de", msgid, text, 5); /* truncated, terminated */
	CHECK(strlen(text) == 4);
	CHECK(nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS) == 0);
}

int
main(void)
{
	test_which_locale();
	test_own_text();
	return check_finish("test_module_l10n");
}
