/* gb_fileutil.h — crash-safe file replacement for checkpoints: write into a temporary file
 * in the target's directory, flush + fsync it, rename it over the target, fsync the
 * directory. A process killed at any moment leaves the old or the new complete file. Only
 * regular files are replaced (a FIFO, device or directory is refused) and a symbolic link is
 * followed: the file it points to is replaced, the link stays. Also: opening a file for
 * reading that refuses anything but a regular file without blocking on a FIFO. */
#ifndef GB_FILEUTIL_H
#define GB_FILEUTIL_H

#include <stdio.h>

#include "gb_core.h"

typedef struct gb_atomic_file {
  FILE *fp;         /* write the new contents here */
  char *path;       /* the target (owned copy) */
  char *tmp_path;   /* the temporary file next to it (owned) */
  const char *what; /* message prefix, e.g. "save" (borrowed, static storage) */
} gb_atomic_file;

/* Create a new temporary file next to `path` (path.tmp.<pid>.<n>) and open it for writing.
 * If `path` is a symbolic link, the file it points to is the target (temporary file next to
 * it). A target that exists and is not a regular file is refused: "<what>: <path>: not a
 * regular file (it is a FIFO); refusing to replace it"; a dangling link likewise.
 * On failure returns GB_EIO (or GB_EOOM) with "<what>: <path>: ...: <strerror>" on S and
 * leaves nothing behind; `af` then needs no cleanup. */
gb_status gb_atomic_file_open(gb_state *S, const char *what, const char *path, gb_atomic_file *af);
/* Flush, fsync and close the temporary file, rename it over the target and fsync the
 * directory. Always releases `af`; on failure the temporary file is removed, the target
 * is untouched and S holds "<what>: <path>: <step>: <strerror>" (GB_EIO). */
gb_status gb_atomic_file_commit(gb_state *S, gb_atomic_file *af);
/* Discard: close and remove the temporary file, release `af`. Safe after a failed open. */
void gb_atomic_file_abort(gb_atomic_file *af);
/* Open `path` for reading, accepting only a regular file (a symbolic link to one is fine):
 * the open does not block on a FIFO or a device (O_NONBLOCK, cleared once the file is known
 * to be regular). On success *fd is the descriptor (the caller closes it) and *size the
 * file's size. Errors (GB_EIO): "<what>: <path>: cannot open: <strerror>" and
 * "<what>: <path>: not a regular file (it is a FIFO)" (a directory, a character device...). */
gb_status gb_file_open_read(gb_state *S, const char *what, const char *path, int *fd,
                            int64_t *size);

/* Record a write error on the temporary file (errno preserved) as GB_EIO on S, naming the
 * target path; for writers that detect a short fwrite. Does not abort `af`. */
gb_status gb_atomic_file_write_error(gb_state *S, const gb_atomic_file *af, int err);

#endif
