/* gb_fileutil.c — crash-safe file replacement (see gb_fileutil.h). POSIX: open(O_EXCL),
 * fsync, rename and a directory fsync make the new file durable before it becomes visible
 * under the target name. */
#define _XOPEN_SOURCE 700 /* realpath */

#include "gb_fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* What a non-regular file is, for messages. */
static const char *file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISLNK(m)) return "a symbolic link";
  return "not a file";
}

gb_status gb_file_open_read(gb_state *S, const char *what, const char *path, int *fd,
                            int64_t *size) {
  *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (*fd < 0) return gb_errorf(S, GB_EIO, "%s: %s: cannot open: %s", what, path, strerror(errno));
  struct stat sb;
  if (fstat(*fd, &sb) != 0) {
    int err = errno;
    close(*fd);
    *fd = -1;
    return gb_errorf(S, GB_EIO, "%s: %s: cannot stat: %s", what, path, strerror(err));
  }
  if (!S_ISREG(sb.st_mode)) {
    close(*fd);
    *fd = -1;
    return gb_errorf(S, GB_EIO, "%s: %s: not a regular file (it is %s)", what, path,
                     file_kind(sb.st_mode));
  }
  int flags = fcntl(*fd, F_GETFL);
  if (flags >= 0) fcntl(*fd, F_SETFL, flags & ~O_NONBLOCK);
  *size = (int64_t)sb.st_size;
  return GB_OK;
}

/* The file a save to `path` replaces, in *out (owned): `path` itself, or what a symbolic
 * link there points to (resolved fully). Refuses a target that exists but is no regular
 * file, and a link that leads nowhere. */
static gb_status save_target(gb_state *S, const char *what, const char *path, char **out) {
  struct stat sb;
  char resolved[PATH_MAX];
  const char *target = path;
  if (lstat(path, &sb) != 0) {
    if (errno != ENOENT)
      return gb_errorf(S, GB_EIO, "%s: %s: cannot stat: %s", what, path, strerror(errno));
  } else if (S_ISLNK(sb.st_mode)) {
    if (!realpath(path, resolved))
      return gb_errorf(S, GB_EIO, "%s: %s: a symbolic link that cannot be followed: %s", what, path,
                       strerror(errno));
    if (stat(resolved, &sb) != 0)
      return gb_errorf(S, GB_EIO, "%s: %s: cannot stat %s: %s", what, path, resolved,
                       strerror(errno));
    if (!S_ISREG(sb.st_mode))
      return gb_errorf(S, GB_EIO,
                       "%s: %s: a symbolic link to %s, which is not a regular file (it is %s); "
                       "refusing to replace it",
                       what, path, resolved, file_kind(sb.st_mode));
    target = resolved;
  } else if (!S_ISREG(sb.st_mode)) {
    return gb_errorf(S, GB_EIO, "%s: %s: not a regular file (it is %s); refusing to replace it",
                     what, path, file_kind(sb.st_mode));
  }
  *out = dup_str(target);
  if (!*out) return gb_errorf(S, GB_EOOM, "%s: %s: out of memory", what, path);
  return GB_OK;
}

static void release(gb_atomic_file *af) {
  free(af->path);
  free(af->tmp_path);
  af->path = af->tmp_path = NULL;
  af->fp = NULL;
}

/* The directory part of path ("." when there is none), for the directory fsync. */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return dup_str(".");
  if (slash == path) return dup_str("/");
  size_t n = (size_t)(slash - path);
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, path, n);
    d[n] = '\0';
  }
  return d;
}

gb_status gb_atomic_file_open(gb_state *S, const char *what, const char *path, gb_atomic_file *af) {
  memset(af, 0, sizeof *af);
  af->what = what;
  if (path[0] == '\0') return gb_errorf(S, GB_EIO, "%s: empty path", what);
  gb_status st = save_target(S, what, path, &af->path);
  if (st != GB_OK) return st;
  size_t n = strlen(af->path) + 64;
  af->tmp_path = malloc(n);
  if (!af->tmp_path) {
    release(af);
    return gb_errorf(S, GB_EOOM, "%s: %s: out of memory", what, path);
  }
  path = af->path; /* from here on, the file being replaced */
  /* pid + a clock-derived nonce: unique across processes and across retries in one. */
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  unsigned nonce = (unsigned)ts.tv_nsec ^ (unsigned)ts.tv_sec * 2654435761u;
  int fd = -1, err = 0;
  for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
    snprintf(af->tmp_path, n, "%s.tmp.%ld.%x", path, (long)getpid(), nonce + (unsigned)attempt);
    fd = open(af->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    err = errno;
    if (fd < 0 && err != EEXIST) break;
  }
  if (fd < 0) {
    gb_errorf(S, GB_EIO, "%s: %s: cannot create temporary file %s: %s", what, path, af->tmp_path,
              strerror(err));
    release(af);
    return GB_EIO;
  }
  af->fp = fdopen(fd, "wb");
  if (!af->fp) {
    err = errno;
    close(fd);
    unlink(af->tmp_path);
    gb_errorf(S, GB_EIO, "%s: %s: %s", what, path, strerror(err));
    release(af);
    return GB_EIO;
  }
  return GB_OK;
}

gb_status gb_atomic_file_write_error(gb_state *S, const gb_atomic_file *af, int err) {
  return gb_errorf(S, GB_EIO, "%s: %s: write failed: %s", af->what, af->path,
                   strerror(err ? err : EIO));
}

void gb_atomic_file_abort(gb_atomic_file *af) {
  if (af->fp) fclose(af->fp);
  if (af->tmp_path) unlink(af->tmp_path);
  release(af);
}

gb_status gb_atomic_file_commit(gb_state *S, gb_atomic_file *af) {
  const char *step = NULL;
  int err = 0;
  if (fflush(af->fp) != 0) {
    step = "write failed", err = errno;
  } else if (ferror(af->fp)) {
    step = "write failed", err = EIO;
  } else if (fsync(fileno(af->fp)) != 0) {
    step = "fsync failed", err = errno;
  }
  if (fclose(af->fp) != 0 && !step) step = "close failed", err = errno;
  af->fp = NULL;
  if (!step && rename(af->tmp_path, af->path) != 0) step = "cannot rename over it", err = errno;
  if (step) {
    gb_errorf(S, GB_EIO, "%s: %s: %s: %s", af->what, af->path, step, strerror(err));
    unlink(af->tmp_path);
    release(af);
    return GB_EIO;
  }
  /* Make the rename itself durable. Failure here leaves a complete file; report it anyway
   * so a caller relying on durability knows. */
  char *dir = dir_of(af->path);
  gb_status st = GB_OK;
  if (dir) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      if (fsync(dfd) != 0 && errno != EINVAL)
        st = gb_errorf(S, GB_EIO, "%s: %s: fsync of directory %s failed: %s", af->what, af->path,
                       dir, strerror(errno));
      close(dfd);
    }
    free(dir);
  }
  release(af);
  return st;
}
