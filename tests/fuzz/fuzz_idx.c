/* fuzz_idx.c — libFuzzer harness for the IDX reader. Each input is parsed from memory
 * (to float32 and int64), then read back as a raw file and as a gzip file through the
 * streaming reader; all three must agree on the status and, name aside, the message. */
#include <zlib.h>

#include "fuzz_common.h"
#include "gb_idx.h"

static char raw_path[128], gz_path[128];

static void remove_scratch(void) {
  unlink(raw_path);
  unlink(gz_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_scratch_path(raw_path, sizeof raw_path, "idx", "");
  fuzz_scratch_path(gz_path, sizeof gz_path, "idx", ".gz");
  atexit(remove_scratch);
  return 0;
}

/* The message with the leading "read_idx: <name>: " removed. */
static const char *tail(const char *msg, const char *name) {
  char prefix[160];
  snprintf(prefix, sizeof prefix, "read_idx: %s: ", name);
  FUZZ_ASSERT(strncmp(msg, prefix, strlen(prefix)) == 0, "message '%s' does not name %s", msg,
              name);
  return msg + strlen(prefix);
}

static void check_tensor(const gb_tensor *t, size_t size, gb_dtype dt) {
  FUZZ_ASSERT(t->device == GB_CPU && t->dtype == dt && t->ndim >= 1 && t->ndim <= GB_MAXDIM,
              "bad result header");
  int64_t numel = 1;
  for (int d = 0; d < t->ndim; d++)
    numel *= t->shape[d];
  FUZZ_ASSERT(numel == t->numel && (size_t)numel < size, "numel %lld for %zu bytes",
              (long long)numel, size);
}

/* Parse via `path` and compare with the in-memory result (status st, message msg). */
static void compare_file(gb_state *S, const char *path, gb_dtype dt, gb_status st, const char *msg,
                         const gb_tensor *mem) {
  gb_tensor *t = NULL;
  gb_status fst = gb_idx_read(S, path, dt, &t);
  FUZZ_ASSERT(fst == st, "file status %d, memory status %d (%s)", fst, st, gb_state_error(S));
  if (st != GB_OK) {
    /* A gzip file whose header declares more data than deflate could inflate from its size
     * is refused before inflating (the gzip-bomb check); in memory the same bytes read as
     * truncated. Any other difference between the two messages is a bug. */
    const char *ft = tail(gb_state_error(S), path);
    bool bomb_check = strstr(ft, "gzip file can hold") && !strncmp(msg, "truncated", 9);
    FUZZ_ASSERT(bomb_check || strcmp(ft, msg) == 0, "file '%s' vs memory '%s'", gb_state_error(S),
                msg);
    return;
  }
  FUZZ_ASSERT(t->numel == mem->numel && t->ndim == mem->ndim, "file and memory shapes differ");
  FUZZ_ASSERT(
      memcmp(gb_tensor_data(t), gb_tensor_data(mem), (size_t)t->numel * gb_dtype_size(dt)) == 0,
      "file and memory values differ");
  gb_tensor_release(S, t);
}

static void write_gzip(const char *path, const uint8_t *data, size_t size) {
  gzFile g = gzopen(path, "wb1");
  FUZZ_ASSERT(g != NULL, "gzopen %s", path);
  if (size) FUZZ_ASSERT(gzwrite(g, data, (unsigned)size) == (int)size, "gzwrite");
  gzclose(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gb_state *S = gb_state_new();
  gb_dtype dts[2] = {GB_F32, GB_I64};
  bool is_gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  if (!is_gzip) fuzz_write(raw_path, data, size);
  write_gzip(gz_path, data, size);
  for (int k = 0; k < 2; k++) {
    gb_tensor *t = NULL;
    gb_status st = gb_idx_parse(S, "fuzz", data, size, dts[k], &t);
    char msg[GB_ERRLEN] = "";
    if (st == GB_OK)
      check_tensor(t, size, dts[k]);
    else
      snprintf(msg, sizeof msg, "%s", tail(gb_state_error(S), "fuzz"));
    if (!is_gzip) compare_file(S, raw_path, dts[k], st, msg, t);
    compare_file(S, gz_path, dts[k], st, msg, t);
    gb_tensor_release(S, t);
  }
  if (is_gzip) { /* the streaming reader on a real gzip input: must not crash, must name it */
    fuzz_write(raw_path, data, size);
    gb_tensor *t = NULL;
    if (gb_idx_read(S, raw_path, GB_F32, &t) == GB_OK)
      gb_tensor_release(S, t);
    else
      tail(gb_state_error(S), raw_path);
  }
  gb_state_free(S);
  return 0;
}
