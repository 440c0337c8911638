#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "fr_catalog.h"
#include "fr_error.h"
#include "fr_io.h"
#include "fr_text.h"
#include "fr_wire.h"
#include "module_exchange.h"
#include "module_l10n.h"

#define DEBUG_LOG(opt, pamh, ...) \
	do { \
		if ((opt)->debug) \
			pam_syslog((pamh), LOG_DEBUG, __VA_ARGS__); \
	} while (0)

/* A user name or path as it may appear in a log line: PAM_USER comes from
 * whoever started the application (a newline in it would forge a second
 * syslog line), so every string from outside is cleaned first. */
struct log_text {
	char text[256];
};

static const char *
for_log(struct log_text *buf, const char *s)
{
	if (s == NULL)
		return "-";
	fr_text_sanitize(buf->text, sizeof(buf->text), s, strlen(s), 0);
	return buf->text;
}

/* sshd shows PAM_TEXT_INFO only together with the next prompt, and some
 * clients not at all; so text from the helper waits here and becomes the
 * first lines of the next prompt, or is shown on its own at the end.
 * PAM_SILENT (sudo 1.9.13 always passes it) drops only the text shown on
 * its own: text folded into a prompt is part of the question, and without
 * it a person would not know why the code prompt came back. */
struct pending_text {
	char text[FR_WIRE_MAX_STRING + 1];
	size_t len;
	int has_error;
};

struct exchange {
	pam_handle_t *pamh;
	const struct module_options *opt;
	int fd;
	int silent;
	char *password;	    /* answer to a FR_PROMPT_IS_PASSWORD prompt */
	const char *locale; /* the person's, sent to the helper; NULL: none */
	char locale_buf[FR_LOCALE_MAX + 1];
};

static void
wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void
pending_flush(struct exchange *ex, struct pending_text *p)
{
	if (p->len > 0 && !ex->silent) {
		/* Return value ignored on purpose: a message that cannot be
		 * shown must not change the verdict. */
		if (p->has_error)
			(void)pam_error(ex->pamh, "%s", p->text);
		else
			(void)pam_info(ex->pamh, "%s", p->text);
	}
	p->len = 0;
	p->text[0] = '\0';
	p->has_error = 0;
}

static void
pending_add(struct exchange *ex, struct pending_text *p, const char *text, int is_error)
{
	char clean[FR_WIRE_MAX_STRING + 1];
	size_t n = fr_text_sanitize(clean, sizeof(clean), text, strlen(text), FR_TEXT_ALLOW_NEWLINE);

	if (n == 0)
		return;
	if (p->len > 0 && p->len + 1 + n >= sizeof(p->text))
		pending_flush(ex, p);
	if (p->len > 0)
		p->text[p->len++] = '\n';
	memcpy(p->text + p->len, clean, n + 1);
	p->len += n;
	p->has_error |= is_error;
}

static int
send_frame(struct exchange *ex, struct fr_frame *f)
{
	int r = fr_frame_finish(f);

	if (r == 0)
		r = fr_io_send(ex->fd, f, ex->opt->timeout_ms);
	fr_frame_wipe(f);
	return r;
}

/* Returns 0 and an answer to send, or FR_ERR_IO for a failed conversation. */
static int
render_prompt(struct exchange *ex, struct pending_text *p, const struct fr_msg *msg, char **answer)
{
	char prompt[2 * FR_WIRE_MAX_STRING + 3];
	const char *text = fr_msg_str(msg, FR_TAG_TEXT);
	int style = fr_msg_num(msg, FR_TAG_STYLE) == FR_PROMPT_ECHO_ON ? PAM_PROMPT_ECHO_ON : PAM_PROMPT_ECHO_OFF;
	size_t off = 0;

	*answer = NULL;
	if (p->len > 0) {
		/* A blank line between the text and the question: a screen
		 * locker that wraps the label itself (xscreensaver 6) starts
		 * the question on a fresh line then, instead of measuring its
		 * first word together with the end of the text and leaving it
		 * alone on a line ("4-digit" / "code ..."). */
		memcpy(prompt, p->text, p->len);
		off = p->len;
		prompt[off++] = '\n';
		prompt[off++] = '\n';
		p->len = 0;
		p->has_error = 0;
	}
	fr_text_sanitize(prompt + off, sizeof(prompt) - off, text, strlen(text), FR_TEXT_ALLOW_NEWLINE);

	int pr = pam_prompt(ex->pamh, style, answer, "%s", prompt);
	if (pr != PAM_SUCCESS) {
		DEBUG_LOG(ex->opt, ex->pamh, "conversation failed: %s", pam_strerror(ex->pamh, pr));
		wipe_free(*answer);
		*answer = NULL;
		return FR_ERR_IO;
	}
	return FR_OK;
}

static int
helper_uid(const struct exchange *ex, uid_t *uid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	*uid = 0;
	if (ex->opt->helper_user[0] == '\0')
		return FR_OK;
	if (getpwnam_r(ex->opt->helper_user, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return FR_ERR_NOT_FOUND;
	*uid = pw.pw_uid;
	return FR_OK;
}

/* The helper is the only judge; when it cannot be asked the answer is
 * AUTHINFO_UNAVAIL, or IGNORE under fail_mode=safe, never SUCCESS. */
static int
unavailable(struct exchange *ex, const char *why, int err)
{
	int saved_errno = errno;
	struct log_text path;

	pam_syslog(ex->pamh, LOG_ERR, "freddy-helperd at %s: %s: %s%s%s%s", for_log(&path, ex->opt->socket_path), why,
		   fr_strerror(err), err == FR_ERR_IO ? " (" : "", err == FR_ERR_IO ? strerror(saved_errno) : "",
		   err == FR_ERR_IO ? ")" : "");
	/* A socket or peer that fails the ownership checks is not "helper
	 * down": someone may be impersonating it, so fail_mode=safe does not
	 * soften it. */
	int safe = ex->opt->fail_safe && err != FR_ERR_UNTRUSTED;
	if (safe)
		pam_syslog(ex->pamh, LOG_WARNING,
			   "fail_mode=safe: returning PAM_IGNORE; the PAM stack "
			   "decides without Freddy");
	if (!ex->silent) {
		/* No helper to write it: the module's one text of its own. */
		char text[256];
		module_l10n_text(LOCALEDIR, ex->locale, N_("Authentication service unavailable"), text, sizeof(text));
		(void)pam_error(ex->pamh, "%s", text);
	}
	return safe ? FR_RESULT_IGNORE : FR_RESULT_AUTHINFO_UNAVAIL;
}

static int
open_helper(struct exchange *ex)
{
	uid_t uid;
	int r;

	if ((r = helper_uid(ex, &uid)) != 0)
		return r;
	return fr_io_connect(ex->opt->socket_path, uid, ex->opt->timeout_ms, &ex->fd);
}

static void
put_item(struct exchange *ex, struct fr_frame *f, int item, enum fr_tag tag)
{
	const void *value = NULL;

	if (pam_get_item(ex->pamh, item, &value) == PAM_SUCCESS && value != NULL && *(const char *)value != '\0')
		fr_frame_put_str(f, tag, value);
}

static int
put_context(struct exchange *ex, struct fr_frame *f, const char *user, int flags)
{
	fr_frame_put_str(f, FR_TAG_USER, user);
	put_item(ex, f, PAM_SERVICE, FR_TAG_SERVICE);
	put_item(ex, f, PAM_RHOST, FR_TAG_RHOST);
	put_item(ex, f, PAM_TTY, FR_TAG_TTY);
	put_item(ex, f, PAM_RUSER, FR_TAG_RUSER);
	fr_frame_put_u32(f, FR_TAG_PAM_FLAGS, (uint32_t)flags);
	return f->err;
}

/* For the requests whose texts the person reads: in which language.  A
 * helper older than FR_TAG_LOCALE refuses it (doc/protocol.md). */
static void
put_locale(struct exchange *ex, struct fr_frame *f)
{
	ex->locale = module_l10n_locale(ex->pamh, ex->locale_buf);
	if (ex->locale != NULL)
		fr_frame_put_str(f, FR_TAG_LOCALE, ex->locale);
}

/* Read helper messages until DONE.  *result is only meaningful when
 * 0 is returned. */
static int
converse(struct exchange *ex, int *result)
{
	struct pending_text pending = { .len = 0 };
	struct fr_msg *msg = malloc(sizeof(*msg));
	struct fr_frame *frame = malloc(sizeof(*frame));
	int r;

	if (msg == NULL || frame == NULL) {
		free(msg);
		free(frame);
		return FR_ERR_NOMEM;
	}
	for (;;) {
		if ((r = fr_io_recv(ex->fd, msg, ex->opt->timeout_ms)) != 0)
			break;
		DEBUG_LOG(ex->opt, ex->pamh, "helper sent %s", fr_msg_type_name(msg->type));
		if (msg->type == FR_MSG_INFO || msg->type == FR_MSG_ERROR) {
			pending_add(ex, &pending, fr_msg_str(msg, FR_TAG_TEXT), msg->type == FR_MSG_ERROR);
		} else if (msg->type == FR_MSG_PROMPT) {
			char *answer = NULL;
			if (render_prompt(ex, &pending, msg, &answer) != 0) {
				*result = FR_RESULT_CONV_ERR;
				r = 0;
				break;
			}
			fr_frame_init(frame, FR_MSG_ANSWER);
			if (answer != NULL)
				fr_frame_put_str(frame, FR_TAG_TEXT, answer);
			if (fr_msg_num(msg, FR_TAG_PROMPT_FLAGS) & FR_PROMPT_IS_PASSWORD) {
				wipe_free(ex->password);
				ex->password = answer;
			} else {
				wipe_free(answer);
			}
			if ((r = send_frame(ex, frame)) != 0)
				break;
		} else if (msg->type == FR_MSG_DONE) {
			const char *text = fr_msg_str(msg, FR_TAG_TEXT);
			uint64_t verdict = fr_msg_num(msg, FR_TAG_RESULT);
			if (text != NULL)
				pending_add(ex, &pending, text, verdict != FR_RESULT_SUCCESS);
			pending_flush(ex, &pending);
			*result = (int)verdict;
			r = 0;
			break;
		} else {
			r = FR_ERR_UNEXPECTED;
			break;
		}
	}
	fr_msg_wipe(msg);
	free(msg);
	free(frame);
	return r;
}

/* The PAM user, or the result to return without one. */
static int
target_user(pam_handle_t *pamh, const struct module_options *opt, const char **user)
{
	int r = pam_get_user(pamh, user, NULL);

	if (r != PAM_SUCCESS || *user == NULL || **user == '\0') {
		DEBUG_LOG(opt, pamh, "no user name: %s", pam_strerror(pamh, r));
		return r == PAM_CONV_ERR || r == PAM_CONV_AGAIN ? FR_RESULT_CONV_ERR : FR_RESULT_USER_UNKNOWN;
	}
	return FR_RESULT_SUCCESS;
}

/* Send the request built in `frame`, hold the conversation the helper
 * leads, and return its verdict.  On success the answer to the prompt
 * flagged IS_PASSWORD becomes PAM_AUTHTOK, for the modules after us. */
static int
run_exchange(struct exchange *ex, struct fr_frame *frame, const char *user)
{
	int result = FR_RESULT_SYSTEM_ERR;
	int r;

	if ((r = open_helper(ex)) != 0)
		return unavailable(ex, "cannot connect", r);
	/* A helper at its client limit answers "busy" and closes before it
	 * reads our request: read its answer even when the send failed. */
	r = send_frame(ex, frame);
	if (r == 0 || r == FR_ERR_CLOSED)
		r = converse(ex, &result);
	if (r != 0)
		return unavailable(ex, "exchange failed", r);
	struct log_text name;
	DEBUG_LOG(ex->opt, ex->pamh, "result for %s: %s", for_log(&name, user), fr_result_name(result));

	if (result == FR_RESULT_SUCCESS && ex->password != NULL &&
	    pam_set_item(ex->pamh, PAM_AUTHTOK, ex->password) != PAM_SUCCESS)
		result = FR_RESULT_SYSTEM_ERR;
	return result;
}

static void
exchange_end(struct exchange *ex, struct fr_frame *frame)
{
	if (frame != NULL)
		fr_frame_wipe(frame);
	free(frame);
	wipe_free(ex->password);
	ex->password = NULL;
	if (ex->fd >= 0)
		close(ex->fd);
	ex->fd = -1;
}

int
module_exchange_authenticate(pam_handle_t *pamh, const struct module_options *opt, int flags)
{
	struct exchange ex = { .pamh = pamh, .opt = opt, .fd = -1, .silent = ((unsigned)flags & PAM_SILENT) != 0 };
	struct fr_frame *frame = NULL;
	const char *user = NULL;
	const void *authtok = NULL;
	int result;

	if ((result = target_user(pamh, opt, &user)) != FR_RESULT_SUCCESS)
		return result;
	if (opt->authtok_mode != FR_AUTHTOK_NONE && pam_get_item(pamh, PAM_AUTHTOK, &authtok) != PAM_SUCCESS)
		authtok = NULL;

	if ((frame = malloc(sizeof(*frame))) == NULL)
		return FR_RESULT_SYSTEM_ERR;
	fr_frame_init(frame, FR_MSG_AUTH_BEGIN);
	if (put_context(&ex, frame, user, flags) != 0) {
		pam_syslog(pamh, LOG_ERR, "user, service or host name too long");
		result = FR_RESULT_SYSTEM_ERR;
	} else {
		fr_frame_put_u32(frame, FR_TAG_AUTHTOK_MODE, (uint32_t)opt->authtok_mode);
		if (authtok != NULL)
			fr_frame_put_str(frame, FR_TAG_AUTHTOK, authtok);
		put_locale(&ex, frame);
		/* Stacked modules may reuse the password, as after pam_unix. */
		result = run_exchange(&ex, frame, user);
	}
	exchange_end(&ex, frame);
	return result;
}

/* libpam's phase, in the protocol's words. */
static uint32_t
chauthtok_flags(int flags)
{
	/* libpam's flags are an int; its constants unsigned. */
	unsigned bits = (unsigned)flags;
	uint32_t f = (bits & PAM_UPDATE_AUTHTOK) ? FR_CHAUTHTOK_UPDATE : FR_CHAUTHTOK_PRELIM;

	if (bits & PAM_CHANGE_EXPIRED_AUTHTOK)
		f |= FR_CHAUTHTOK_EXPIRED_ONLY;
	return f;
}

/* libpam runs a password stack twice.  When our first phase answered
 * SUCCESS, "success=done" (etc/pam.d/passwd) ended that pass before the
 * modules after us ran theirs, and pam_unix checks the current password
 * only there.  A PAM_IGNORE from us in the second phase (fail_mode=safe,
 * the helper or the API gone meanwhile) would hand the change to them, and
 * pam_unix would set a new Unix password without the old one.  So a change
 * we took part in is not given away later: it fails as under
 * fail_mode=secure.  The mark lives in the PAM handle, one per change. */
#define TOOK_PART_KEY "pam_freddy_chauthtok_took_part"

static void
free_mark(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	free(data);
}

static int
set_took_part(pam_handle_t *pamh, int took_part)
{
	int *mark = NULL;

	if (took_part) {
		if ((mark = malloc(sizeof(*mark))) == NULL)
			return FR_ERR_NOMEM;
		*mark = 1;
	}
	if (pam_set_data(pamh, TOOK_PART_KEY, mark, mark != NULL ? free_mark : NULL) != PAM_SUCCESS) {
		free(mark);
		return FR_ERR_NOMEM;
	}
	return FR_OK;
}

static int
took_part(pam_handle_t *pamh)
{
	const void *mark = NULL;

	return pam_get_data(pamh, TOOK_PART_KEY, &mark) == PAM_SUCCESS && mark != NULL;
}

/* The helper's verdict for one phase, held to the rule above. */
static int
chauthtok_phase_result(pam_handle_t *pamh, int flags, int result)
{
	if (!((unsigned)flags & PAM_UPDATE_AUTHTOK)) {
		if (set_took_part(pamh, result == FR_RESULT_SUCCESS) != 0) {
			pam_syslog(pamh, LOG_ERR, "cannot keep the password change's first phase");
			return result == FR_RESULT_SUCCESS ? FR_RESULT_SYSTEM_ERR : result;
		}
		return result;
	}
	if (result == FR_RESULT_IGNORE && took_part(pamh)) {
		pam_syslog(pamh, LOG_ERR,
			   "password change: this module took part in the first phase, so the modules "
			   "after it checked nothing; failing instead of returning PAM_IGNORE");
		result = FR_RESULT_AUTHINFO_UNAVAIL;
	}
	/* Return value ignored on purpose: the change is over either way. */
	(void)set_took_part(pamh, 0);
	return result;
}

int
module_exchange_chauthtok(pam_handle_t *pamh, const struct module_options *opt, int flags)
{
	struct exchange ex = { .pamh = pamh, .opt = opt, .fd = -1, .silent = ((unsigned)flags & PAM_SILENT) != 0 };
	struct fr_frame *frame = NULL;
	const char *user = NULL;
	int result;

	if ((result = target_user(pamh, opt, &user)) != FR_RESULT_SUCCESS)
		return result;
	if ((frame = malloc(sizeof(*frame))) == NULL)
		return FR_RESULT_SYSTEM_ERR;
	fr_frame_init(frame, FR_MSG_PASSWD_BEGIN);
	if (put_context(&ex, frame, user, flags) != 0) {
		pam_syslog(pamh, LOG_ERR, "user, service or host name too long");
		result = FR_RESULT_SYSTEM_ERR;
	} else {
		/* passwd is set-uid root: the helper sees a root peer whoever
		 * runs it, and needs to know who did.  It believes this only
		 * from a root peer. */
		fr_frame_put_u32(frame, FR_TAG_CALLER_UID, (uint32_t)getuid());
		fr_frame_put_u32(frame, FR_TAG_CHAUTHTOK_FLAGS, chauthtok_flags(flags));
		put_locale(&ex, frame);
		result = run_exchange(&ex, frame, user);
	}
	exchange_end(&ex, frame);
	return chauthtok_phase_result(pamh, flags, result);
}

int
module_exchange_session(pam_handle_t *pamh, const struct module_options *opt, int flags, int opening)
{
	struct exchange ex = { .pamh = pamh, .opt = opt, .fd = -1, .silent = 1 };
	struct fr_frame *frame = NULL;
	const char *user = NULL;
	int result = FR_RESULT_SYSTEM_ERR;
	int r;

	if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL || *user == '\0')
		return FR_RESULT_USER_UNKNOWN;
	if ((frame = malloc(sizeof(*frame))) == NULL)
		return FR_RESULT_SYSTEM_ERR;
	fr_frame_init(frame, opening ? FR_MSG_SESSION_OPEN : FR_MSG_SESSION_CLOSE);
	if (put_context(&ex, frame, user, flags) != 0)
		goto out;
	/* A session hook only tells the helper what happened; a helper that
	 * cannot be reached must not keep anyone from logging out or in. */
	if ((r = open_helper(&ex)) != 0 || (r = send_frame(&ex, frame)) != 0 || (r = converse(&ex, &result)) != 0) {
		struct log_text name;
		pam_syslog(pamh, LOG_WARNING, "session %s for %s not recorded by freddy-helperd: %s",
			   opening ? "open" : "close", for_log(&name, user), fr_strerror(r));
		result = FR_RESULT_IGNORE;
	}
out:
	fr_frame_wipe(frame);
	free(frame);
	if (ex.fd >= 0)
		close(ex.fd);
	return result;
}
