/*
 * One user's cache file on disk, in the layout of cache_image.h: a store
 * overwrites the older slot of the file in place when the file is one the
 * helper wrote in that layout and the record fits, and otherwise writes a
 * whole new file and renames it into place (the first store of a user, a
 * file of the older layout, one that is foreign-owned or too open, a
 * record that outgrew its slots).
 */
#ifndef CACHE_FILE_H
#define CACHE_FILE_H

#include <stdbool.h>
#include <stddef.h>

/* Store `record` (JSON, len bytes) as the file `user` in `dirfd`.  FR_OK,
 * FR_ERR_TOO_LARGE (over CACHE_RECORD_MAX), FR_ERR_NOMEM, or FR_ERR_IO
 * with errno set; after a failure the file still holds the record it
 * held before (or, when only the sync failed, possibly the new one).
 * *renamed says a new file was renamed into place: the caller must then
 * fsync the folder (atomic_file_commit), once for a batch of files. */
int cache_file_store(int dirfd, const char *user, const char *record, size_t len, bool *renamed);

#endif
