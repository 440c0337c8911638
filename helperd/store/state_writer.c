#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hostlib/atomic_file.h"
#include "fr_error.h"
#include "core/log.h"
#include "core/secret.h"
#include "store/state_writer.h"

#define NAME_MAX_LEN   255
#define RETRY_FIRST_MS 1000
#define RETRY_MAX_MS   60000

/* One file's newest contents.  `next` holds contents that arrived while
 * `data` was being written; they replace it afterwards. */
struct state_op {
	struct state_op *link;
	char name[NAME_MAX_LEN + 1];
	char *data, *next; /* wiped on free: replay steps are not secret, but cheap */
	size_t len, next_len;
	bool has_next;
	bool writing;
	unsigned failures;   /* in a row */
	int64_t retry_at_ms; /* 0: as soon as possible */
	uint64_t failed_gen; /* flush generation of the last failure */
};

struct state_writer {
	int dirfd;
	char *dir;
	pthread_mutex_t lock;
	pthread_cond_t work;
	pthread_cond_t done;
	struct state_op *ops;
	uint64_t gen; /* bumped by each flush */
	bool stopping;
	bool threaded;
	pthread_t thread;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
op_free(struct state_op *op)
{
	secret_free(op->data);
	secret_free(op->next);
	free(op);
}

static void
unlink_op(struct state_writer *w, struct state_op *op)
{
	for (struct state_op **p = &w->ops; *p != NULL; p = &(*p)->link) {
		if (*p == op) {
			*p = op->link;
			return;
		}
	}
}

/* Lock held on entry and exit; released around the write itself. */
static void
write_op(struct state_writer *w, struct state_op *op)
{
	op->writing = true;
	pthread_mutex_unlock(&w->lock);
	int r = atomic_file_replace(w->dirfd, op->name, op->data, op->len);
	int saved = errno;
	pthread_mutex_lock(&w->lock);
	op->writing = false;
	if (r == FR_OK) {
		if (op->failures > 0)
			log_info("%s/%s written after %u failed attempt(s)", w->dir, op->name, op->failures);
		op->failures = 0;
		op->retry_at_ms = 0;
	} else {
		if (op->failures == 0)
			log_err("cannot write %s/%s: %s; the state is kept in memory and the write retried", w->dir,
				op->name, strerror(saved));
		op->failures++;
		op->failed_gen = w->gen;
		unsigned shift = op->failures > 6 ? 6 : op->failures - 1;
		int64_t pause = (int64_t)RETRY_FIRST_MS << shift;
		op->retry_at_ms = now_ms() + (pause > RETRY_MAX_MS ? RETRY_MAX_MS : pause);
	}
	if (op->has_next) {
		secret_free(op->data);
		op->data = op->next;
		op->len = op->next_len;
		op->next = NULL;
		op->has_next = false;
		op->retry_at_ms = r == FR_OK ? 0 : op->retry_at_ms;
	} else if (r == FR_OK) {
		unlink_op(w, op);
		op_free(op);
	}
	pthread_cond_broadcast(&w->done);
}

/* The op due first, and when the earliest other one is due. */
static struct state_op *
next_due(struct state_writer *w, int64_t now, int64_t *wake_at)
{
	*wake_at = 0;
	for (struct state_op *op = w->ops; op != NULL; op = op->link) {
		if (op->writing)
			continue;
		if (op->retry_at_ms <= now)
			return op;
		if (*wake_at == 0 || op->retry_at_ms < *wake_at)
			*wake_at = op->retry_at_ms;
	}
	return NULL;
}

static void *
writer_main(void *arg)
{
	struct state_writer *w = arg;

	pthread_mutex_lock(&w->lock);
	while (!w->stopping) {
		int64_t wake_at;
		struct state_op *op = next_due(w, now_ms(), &wake_at);
		if (op != NULL) {
			write_op(w, op);
			continue;
		}
		if (wake_at == 0) {
			pthread_cond_wait(&w->work, &w->lock);
		} else {
			struct timespec ts = { .tv_sec = wake_at / 1000, .tv_nsec = (wake_at % 1000) * 1000000 };
			(void)pthread_cond_timedwait(&w->work, &w->lock, &ts); /* ETIMEDOUT is the point */
		}
	}
	/* Stopping: one last attempt for each file still queued. */
	for (struct state_op *op = w->ops, *link; op != NULL; op = link) {
		link = op->link;
		write_op(w, op);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int
state_writer_new(int dirfd, const char *dir, struct state_writer **out)
{
	struct state_writer *w = calloc(1, sizeof(*w));
	pthread_condattr_t attr;

	*out = NULL;
	if (w == NULL)
		return FR_ERR_NOMEM;
	w->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (w->dirfd < 0 || (w->dir = strdup(dir)) == NULL) {
		if (w->dirfd >= 0)
			close(w->dirfd);
		free(w);
		return FR_ERR_NOMEM;
	}
	/* Retry pauses are measured on the monotonic clock, as the loop's are. */
	if (pthread_condattr_init(&attr) != 0 || pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&w->work, &attr) != 0 || pthread_cond_init(&w->done, NULL) != 0 ||
	    pthread_mutex_init(&w->lock, NULL) != 0) {
		close(w->dirfd);
		free(w->dir);
		free(w);
		return FR_ERR_NOMEM;
	}
	(void)pthread_condattr_destroy(&attr);
	w->threaded = pthread_create(&w->thread, NULL, writer_main, w) == 0;
	if (w->threaded)
		(void)pthread_setname_np(w->thread, "freddy-statewr");
	else
		log_warn("no state writer thread; rate-limit and replay state is written on the event loop");
	*out = w;
	return FR_OK;
}

void
state_writer_free(struct state_writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
	if (w->threaded && pthread_join(w->thread, NULL) != 0)
		log_err("cannot join the state writer thread");
	if (!w->threaded) {
		pthread_mutex_lock(&w->lock);
		for (struct state_op *op = w->ops, *link; op != NULL; op = link) {
			link = op->link;
			write_op(w, op);
		}
		pthread_mutex_unlock(&w->lock);
	}
	while (w->ops != NULL) {
		struct state_op *op = w->ops;
		w->ops = op->link;
		log_err("%s/%s could not be written before exit; its latest state is lost", w->dir, op->name);
		op_free(op);
	}
	pthread_cond_destroy(&w->done);
	pthread_cond_destroy(&w->work);
	pthread_mutex_destroy(&w->lock);
	close(w->dirfd);
	free(w->dir);
	free(w);
}

int
state_writer_put(struct state_writer *w, const char *name, const void *data, size_t len)
{
	size_t nlen = strlen(name);

	if (nlen == 0 || nlen > NAME_MAX_LEN || strchr(name, '/') != NULL)
		return FR_ERR_INVALID;
	char *copy = secret_strndup(data, len);
	if (copy == NULL)
		return FR_ERR_NOMEM;
	pthread_mutex_lock(&w->lock);
	struct state_op *op = w->ops;
	while (op != NULL && strcmp(op->name, name) != 0)
		op = op->link;
	if (op != NULL && op->writing) {
		secret_free(op->next);
		op->next = copy;
		op->next_len = len;
		op->has_next = true;
	} else if (op != NULL) {
		secret_free(op->data);
		op->data = copy;
		op->len = len;
		/* A retry pause stays: new contents do not make a full disk empty. */
	} else if ((op = calloc(1, sizeof(*op))) == NULL) {
		pthread_mutex_unlock(&w->lock);
		secret_free(copy);
		return FR_ERR_NOMEM;
	} else {
		memcpy(op->name, name, nlen + 1);
		op->data = copy;
		op->len = len;
		op->link = w->ops;
		w->ops = op;
	}
	pthread_cond_signal(&w->work);
	bool inline_write = !w->threaded && !op->writing;
	if (inline_write)
		write_op(w, op);
	pthread_mutex_unlock(&w->lock);
	return FR_OK;
}

int
state_writer_flush(struct state_writer *w)
{
	int r = FR_OK;

	pthread_mutex_lock(&w->lock);
	uint64_t gen = ++w->gen;
	for (;;) {
		bool waiting = false;
		for (struct state_op *op = w->ops; op != NULL; op = op->link)
			if (op->writing || op->failed_gen < gen)
				waiting = true;
		if (!waiting || !w->threaded)
			break;
		/* Make queued retries due now, so the flush does not wait out a pause. */
		for (struct state_op *op = w->ops; op != NULL; op = op->link)
			if (!op->writing && op->failed_gen < gen)
				op->retry_at_ms = 0;
		pthread_cond_signal(&w->work);
		pthread_cond_wait(&w->done, &w->lock);
	}
	if (w->ops != NULL)
		r = FR_ERR_IO;
	pthread_mutex_unlock(&w->lock);
	return r;
}
