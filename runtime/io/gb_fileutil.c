/* gb_fileutil.c — crash-safe file replacement (see gb_fileutil.h). POSIX: open(O_EXCL),
 * fsync, rename and a directory fsync make the new file durable before it becomes visible
 * under the target name. */
#define _POSIX_C_SOURCE 200809L

#include "gb_fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
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
  size_t n = strlen(path) + 64;
  af->path = dup_str(path);
  af->tmp_path = malloc(n);
  if (!af->path || !af->tmp_path) {
    release(af);
    return gb_errorf(S, GB_EOOM, "%s: %s: out of memory", what, path);
  }
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
