#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include <jansson.h>

#include "hostlib/atomic_file.h"
#include "fr_error.h"
#include "store/cache_file.h"
#include "store/cache_image.h"
#include "hostlib/private_file.h"
#include "core/log.h"
#include "core/secret.h"
#include "store/token_cache.h"
#include "hostlib/user_name.h"

/* Work for the disk.  Writes happen on a thread of their own: an fsync
 * per login on the event loop would make every login wait for the disk
 * on behalf of the others.  The thread does what has queued up as one
 * batch: a user's existing file is overwritten in place (one fsync), a
 * new file renamed into place, a forgotten one removed, with one fsync of
 * the folder per batch for all the renames and removals. */
enum cache_op_kind {
	CACHE_OP_STORE,
	/* Remove the user's file: a forget that came while that user's
	 * record was being written (removed now, the write would bring it
	 * back).  Loads see it as "nothing cached" while it waits. */
	CACHE_OP_FORGET,
	/* Make a removal done on the loop durable (no user). */
	CACHE_OP_SYNC_FOLDER,
};

struct cache_op {
	struct cache_op *next;
	enum cache_op_kind kind;
	char user[USER_NAME_MAX + 1];
	char *text; /* CACHE_OP_STORE: the encoded record, holds secrets */
	size_t len;
	bool superseded; /* a later store or a forget replaced it */
	bool writing;	 /* in the batch being written */
};

#define CACHE_WRITE_BATCH_MAX 64
#define CACHE_WRITER_NICE     10

struct token_cache {
	int dirfd;
	char *path;
	pthread_mutex_t lock;
	pthread_cond_t work;	      /* the queue gained an op, or stop */
	pthread_cond_t done;	      /* the writer finished an op */
	struct cache_op *head, *tail; /* FIFO; the batch being written is its start */
	bool stopping;
	bool threaded; /* false: writes happen in token_cache_store */
	pthread_t writer;
};

static void *writer_main(void *arg);

int
token_cache_open(const char *dir, struct token_cache **out)
{
	struct stat st;
	struct token_cache *c;

	*out = NULL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_err("cannot create cache_dir %s: %s", dir, strerror(errno));
		return FR_ERR_IO;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		log_err("cannot open cache_dir %s: %s", dir, strerror(errno));
		return FR_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		log_err("cache_dir %s must be owned by uid %u with mode 0700", dir, (unsigned)geteuid());
		close(fd);
		return FR_ERR_UNTRUSTED;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->path = strdup(dir)) == NULL) {
		free(c);
		close(fd);
		return FR_ERR_NOMEM;
	}
	c->dirfd = fd;
	if (pthread_mutex_init(&c->lock, NULL) != 0 || pthread_cond_init(&c->work, NULL) != 0 ||
	    pthread_cond_init(&c->done, NULL) != 0) {
		token_cache_close(c);
		return FR_ERR_NOMEM;
	}
	/* Without a writer thread the cache still works, writing inline. */
	c->threaded = pthread_create(&c->writer, NULL, writer_main, c) == 0;
	/* A name of its own shows in ps and perf; failing to set it is harmless. */
	if (c->threaded)
		(void)pthread_setname_np(c->writer, "freddy-cachewr");
	if (!c->threaded)
		log_warn("no cache writer thread; cache files are written on the event loop");
	*out = c;
	return FR_OK;
}

void
token_cache_close(struct token_cache *c)
{
	if (c == NULL)
		return;
	if (c->threaded) {
		pthread_mutex_lock(&c->lock);
		c->stopping = true;
		pthread_cond_signal(&c->work);
		pthread_mutex_unlock(&c->lock);
		/* The writer drains the queue before it returns. */
		if (pthread_join(c->writer, NULL) != 0)
			log_err("cannot join the cache writer thread");
		pthread_cond_destroy(&c->done);
		pthread_cond_destroy(&c->work);
		pthread_mutex_destroy(&c->lock);
	}
	close(c->dirfd);
	free(c->path);
	free(c);
}

static int
write_record(struct token_cache *c, const char *user, const char *text, size_t len)
{
	bool renamed = false;
	int r = cache_file_store(c->dirfd, user, text, len, &renamed);

	if (r == FR_OK && renamed && atomic_file_commit(c->dirfd) != FR_OK)
		r = FR_ERR_IO;
	if (r != FR_OK)
		log_err("cannot write the cache file of %s in %s: %s", user, c->path,
			r == FR_ERR_IO ? strerror(errno) : fr_strerror(r));
	return r;
}

static void
op_free(struct cache_op *op)
{
	secret_free(op->text);
	free(op);
}

/* Write the first `count` ops of the queue (taken by writer_main): every
 * file, then one fsync of the folder for all the renames among them. */
static void
write_batch(struct token_cache *c, struct cache_op **batch, const bool *skip, size_t count)
{
	bool any_renamed = false;

	for (size_t i = 0; i < count; i++) {
		bool renamed = false;
		if (skip[i])
			continue;
		if (batch[i]->kind == CACHE_OP_SYNC_FOLDER) {
			any_renamed = true;
			continue;
		}
		if (batch[i]->kind == CACHE_OP_FORGET) {
			if (unlinkat(c->dirfd, batch[i]->user, 0) == 0)
				any_renamed = true;
			else if (errno != ENOENT)
				log_err("cannot remove the forgotten cache file of %s in %s: %s", batch[i]->user,
					c->path, strerror(errno));
			continue;
		}
		int r = cache_file_store(c->dirfd, batch[i]->user, batch[i]->text, batch[i]->len, &renamed);
		if (r != FR_OK)
			log_err("cannot write the cache file of %s in %s: %s", batch[i]->user, c->path,
				r == FR_ERR_IO ? strerror(errno) : fr_strerror(r));
		any_renamed = any_renamed || renamed;
	}
	if (any_renamed && atomic_file_commit(c->dirfd) != 0)
		log_err("cannot write the cache folder %s: %s", c->path, strerror(errno));
}

static void *
writer_main(void *arg)
{
	struct token_cache *c = arg;
	struct cache_op *batch[CACHE_WRITE_BATCH_MAX];
	bool skip[CACHE_WRITE_BATCH_MAX];

	/* The writes can wait for a login storm to pass; the logins cannot.
	 * A user's first file costs about a millisecond of CPU (its fsync
	 * commits the journal), and a burst of first logins had the writer
	 * take a third of the two cores from the event loop.  At nice 10 it
	 * gets about a tenth of a CPU that logins want, and all of an idle
	 * one; lookups meanwhile read the queue (pending_record). */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), CACHE_WRITER_NICE) != 0)
		log_debug("cache writer: cannot lower its priority: %s", strerror(errno));
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->head == NULL && !c->stopping)
			pthread_cond_wait(&c->work, &c->lock);
		if (c->head == NULL)
			break; /* stopping, and everything is written */
		size_t count = 0;
		for (struct cache_op *o = c->head; o != NULL && count < CACHE_WRITE_BATCH_MAX; o = o->next) {
			o->writing = true;
			skip[count] = o->superseded;
			batch[count++] = o;
		}
		pthread_mutex_unlock(&c->lock);
		/* The ops' text stays readable by pending_record meanwhile:
		 * nobody changes or frees an op before it leaves the queue. */
		write_batch(c, batch, skip, count);
		pthread_mutex_lock(&c->lock);
		/* Stores only append, so the batch is still the queue's start. */
		for (size_t i = 0; i < count; i++) {
			c->head = batch[i]->next;
			op_free(batch[i]);
		}
		if (c->head == NULL)
			c->tail = NULL;
		pthread_cond_broadcast(&c->done);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static struct cache_op *
op_new(enum cache_op_kind kind, const char *user)
{
	struct cache_op *op = calloc(1, sizeof(*op));

	if (op != NULL) {
		op->kind = kind;
		memcpy(op->user, user, strlen(user) + 1);
	}
	return op;
}

/* Called with the lock held. */
static void
queue_locked(struct token_cache *c, struct cache_op *op)
{
	if (c->tail != NULL)
		c->tail->next = op;
	else
		c->head = op;
	c->tail = op;
	pthread_cond_signal(&c->work);
}

int
token_cache_store(struct token_cache *c, const char *user, const struct cache_record *rec)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if (!user_name_valid(user))
		return FR_ERR_INVALID;
	if ((r = cache_record_encode(user, rec, &text, &len)) != 0)
		return r;
	/* Refused here, where the caller hears of it, not on the writer. */
	if (cache_image_slot_size(len) == 0) {
		secret_free(text);
		return FR_ERR_TOO_LARGE;
	}
	if (!c->threaded) {
		r = write_record(c, user, text, len);
		secret_free(text);
		return r;
	}
	struct cache_op *op = op_new(CACHE_OP_STORE, user);
	if (op == NULL) {
		secret_free(text);
		return FR_ERR_NOMEM;
	}
	op->text = text;
	op->len = len;
	pthread_mutex_lock(&c->lock);
	for (struct cache_op *o = c->head; o != NULL; o = o->next)
		if (strcmp(o->user, user) == 0)
			o->superseded = true; /* harmless for the one being written */
	queue_locked(c, op);
	pthread_mutex_unlock(&c->lock);
	return FR_OK;
}

/* The newest record of `user` still waiting to be written, copied. */
static int
pending_record(struct token_cache *c, const char *user, struct cache_record *out, bool *found)
{
	char *copy = NULL;
	size_t len = 0;

	*found = false;
	if (!c->threaded)
		return FR_OK;
	bool forgotten = false;
	pthread_mutex_lock(&c->lock);
	for (struct cache_op *o = c->head; o != NULL; o = o->next) {
		if (strcmp(o->user, user) != 0 || o->superseded)
			continue;
		*found = true;
		secret_free(copy);
		copy = NULL;
		if ((forgotten = o->kind == CACHE_OP_FORGET))
			continue;
		if ((copy = secret_strndup(o->text, o->len)) == NULL)
			break;
		len = o->len;
	}
	pthread_mutex_unlock(&c->lock);
	if (!*found)
		return FR_OK;
	if (forgotten)
		return FR_ERR_NOT_FOUND;
	if (copy == NULL)
		return FR_ERR_NOMEM;
	int r = cache_record_decode(user, copy, len, out);
	secret_free(copy);
	return r;
}

void
token_cache_flush(struct token_cache *c)
{
	if (!c->threaded)
		return;
	pthread_mutex_lock(&c->lock);
	while (c->head != NULL)
		pthread_cond_wait(&c->done, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

int
token_cache_load(struct token_cache *c, const char *user, struct cache_record *out)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (!user_name_valid(user))
		return FR_ERR_INVALID;
	bool pending;
	if ((r = pending_record(c, user, out, &pending)) != 0 || pending)
		return r;
	const struct private_file_rule rule = {
		.owner = geteuid(),
		.other_owner = geteuid(),
		.forbidden_mode = 0077,
		.max_size = CACHE_FILE_MAX,
		.what = "cache file",
		.must_be = "a private regular file of the helper",
	};
	char err[256];
	r = private_file_read(c->dirfd, user, &rule, &buf, &len, err, sizeof(err));
	if (r != FR_OK) {
		if (r != FR_ERR_NOT_FOUND)
			log_warn("ignoring cache file of %s: %s", user, err);
		return r == FR_ERR_NOMEM ? r : FR_ERR_NOT_FOUND;
	}
	const char *record;
	size_t record_len;
	r = cache_image_record((const unsigned char *)buf, len, &record, &record_len);
	if (r == FR_OK)
		r = cache_record_decode(user, record, record_len, out);
	explicit_bzero(buf, len);
	free(buf);
	if (r != 0) {
		log_warn("ignoring corrupt cache file of %s", user);
		return FR_ERR_NOT_FOUND;
	}
	return FR_OK;
}

/* Called with the lock held. */
static bool
user_being_written(const struct token_cache *c, const char *user)
{
	for (const struct cache_op *o = c->head; o != NULL && o->writing; o = o->next)
		if (strcmp(o->user, user) == 0)
			return true;
	return false;
}

int
token_cache_forget(struct token_cache *c, const char *user)
{
	bool cancelled = false, forgotten = false;

	if (!user_name_valid(user))
		return FR_ERR_INVALID;
	if (c->threaded) {
		pthread_mutex_lock(&c->lock);
		/* At most one op of a user is not superseded: the newest. */
		for (struct cache_op *o = c->head; o != NULL; o = o->next) {
			if (strcmp(o->user, user) != 0 || o->superseded)
				continue;
			if (o->kind == CACHE_OP_FORGET) {
				forgotten = true;
				continue;
			}
			o->superseded = true; /* a store that waits: cancelled */
			cancelled = true;
		}
		if (forgotten) {
			pthread_mutex_unlock(&c->lock);
			return FR_ERR_NOT_FOUND;
		}
		/* A write of this user in progress would bring the file back
		 * after an unlink here.  The writer removes it once that write
		 * is done; the loop does not wait for the disk meanwhile. */
		if (user_being_written(c, user)) {
			struct cache_op *op = op_new(CACHE_OP_FORGET, user);
			if (op != NULL)
				queue_locked(c, op);
			pthread_mutex_unlock(&c->lock);
			return op != NULL ? FR_OK : FR_ERR_NOMEM;
		}
		pthread_mutex_unlock(&c->lock);
	}
	if (unlinkat(c->dirfd, user, 0) != 0)
		return errno == ENOENT ? (cancelled ? FR_OK : FR_ERR_NOT_FOUND) : FR_ERR_IO;
	/* Every load misses the file now; the folder's fsync, which makes
	 * that survive a crash, is for the writer to wait for. */
	struct cache_op *sync = c->threaded ? op_new(CACHE_OP_SYNC_FOLDER, "") : NULL;
	if (sync != NULL) {
		pthread_mutex_lock(&c->lock);
		queue_locked(c, sync);
		pthread_mutex_unlock(&c->lock);
	} else if (fsync(c->dirfd) != 0) {
		log_warn("fsync of %s: %s", c->path, strerror(errno));
	}
	return FR_OK;
}

int
token_cache_each(struct token_cache *c, token_cache_each_fn fn, void *ctx)
{
	token_cache_flush(c); /* the folder is the truth once the queue is empty */
	int fd = openat(c->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = FR_OK;

	if (fd < 0)
		return FR_ERR_IO;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return FR_ERR_IO;
	}
	struct dirent *e;
	while (r == 0 && (e = readdir(d)) != NULL) {
		struct cache_record rec;
		if (e->d_name[0] == '.' || !user_name_valid(e->d_name))
			continue;
		if (token_cache_load(c, e->d_name, &rec) != 0)
			continue;
		r = fn(ctx, e->d_name, &rec);
		cache_record_wipe(&rec);
	}
	closedir(d);
	return r;
}

int
token_cache_count(struct token_cache *c)
{
	/* Not flushed first: a status request must not wait for the disk on
	 * the loop.  A record still being written is missed for a moment. */
	int fd = openat(c->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int count = 0;

	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && user_name_valid(e->d_name))
			count++;
	closedir(d);
	return count;
}

int
token_cache_add_verifier(struct token_cache *c, const char *user, long long last_login, char **verifier)
{
	struct cache_record rec;
	int r;

	if (*verifier == NULL)
		return FR_ERR_INVALID;
	if ((r = token_cache_load(c, user, &rec)) != 0) {
		free(*verifier);
		*verifier = NULL;
		return r;
	}
	if (rec.last_login == last_login && rec.verifier == NULL) {
		rec.verifier = *verifier; /* cache_record_wipe frees it */
		*verifier = NULL;
		r = token_cache_store(c, user, &rec);
	} else {
		r = FR_ERR_NOT_FOUND;
	}
	cache_record_wipe(&rec);
	free(*verifier);
	*verifier = NULL;
	return r;
}
