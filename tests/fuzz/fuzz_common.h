/* fuzz_common.h — helpers shared by the libFuzzer harnesses: a per-process scratch file on
 * tmpfs where possible (fsync there is cheap), and a hard failure that libFuzzer reports. */
#ifndef GB_FUZZ_COMMON_H
#define GB_FUZZ_COMMON_H

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Report and crash: libFuzzer saves the input that got here. */
#define FUZZ_ASSERT(cond, ...)                                                                     \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "fuzz assertion failed: %s: ", #cond);                                       \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

/* "<dir>/gb_fuzz_<tag>.<pid><suffix>" in /dev/shm when it is writable, else /tmp. */
static inline void fuzz_scratch_path(char *buf, size_t n, const char *tag, const char *suffix) {
  const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(buf, n, "%s/gb_fuzz_%s.%ld%s", dir, tag, (long)getpid(), suffix);
}

static inline void fuzz_write(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  FUZZ_ASSERT(f != NULL, "cannot create %s", path);
  FUZZ_ASSERT(fwrite(data, 1, size, f) == size, "short write to %s", path);
  fclose(f);
}

#endif
