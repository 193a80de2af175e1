/* test_safetensors.c — safetensors round trips (every dtype, scalars, empty and transposed
 * views, metadata), an independent check of the written bytes (length prefix, JSON header
 * parsed here with jansson, raw little-endian data), every malformed-file class with its
 * exact message, and save failures that must leave the old file and no temporary behind. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gb_cpu.h"
#include "gb_safetensors.h"
#include "check.h"

static char dir[64];

static gb_tensor *make(gb_state *S, gb_dtype dt, int ndim, const int64_t *shape, double base) {
  gb_tensor *t = NULL;
  if (gb_tensor_empty(S, ndim, shape, dt, GB_CPU, &t) != GB_OK) return NULL;
  for (int64_t i = 0; i < t->numel; i++) {
    double v = base + (double)i * (dt == GB_F32 ? 0.5 : 3.0);
    if (dt == GB_F32)
      gb_tensor_f32(t)[i] = (float)v;
    else if (dt == GB_I32)
      ((int32_t *)gb_tensor_data(t))[i] = (int32_t)v;
    else
      ((int64_t *)gb_tensor_data(t))[i] = (int64_t)v * 1000000007LL;
  }
  return t;
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)n + 1);
  *len = fread(b, 1, (size_t)n, f);
  fclose(f);
  return b;
}

static void spit(const char *path, const void *b, size_t n) {
  FILE *f = fopen(path, "wb");
  fwrite(b, 1, n, f);
  fclose(f);
}

static bool same_values(const gb_tensor *a, const gb_tensor *b) {
  if (a->dtype != b->dtype || a->ndim != b->ndim || a->numel != b->numel) return false;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return false;
  for (int64_t i = 0; i < a->numel; i++)
    if (gb_tensor_get_flat(a, i) != gb_tensor_get_flat(b, i)) return false;
  return true;
}

/* Files in dir whose name contains ".tmp." (leftover temporaries). */
static int count_temps(void) {
  int n = 0;
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (strstr(e->d_name, ".tmp.")) n++;
  if (d) closedir(d);
  return n;
}

/* The set saved by the round-trip tests; names are deliberately not in sorted order. */
typedef struct fixture {
  gb_tensor *w, *b, *steps, *scalar, *empty, *base, *wt;
  gb_safetensors_entry e[6];
  gb_safetensors_meta m[2];
  gb_safetensors f;
} fixture;

static void fixture_init(gb_state *S, fixture *x) {
  int64_t s23[2] = {2, 3}, s4[1] = {4}, s22[2] = {2, 2}, s03[2] = {0, 3}, s34[2] = {3, 4};
  x->w = make(S, GB_F32, 2, s23, -1.0);
  x->b = make(S, GB_I32, 1, s4, -7);
  x->steps = make(S, GB_I64, 2, s22, 5);
  x->scalar = make(S, GB_F32, 0, NULL, 42.25);
  x->empty = make(S, GB_F32, 2, s03, 0);
  x->base = make(S, GB_F32, 2, s34, 100);
  /* a transposed view of base: shape (4,3), strides (1,4) */
  x->wt = gb_tensor_alias(S, x->base);
  x->wt->shape[0] = 4, x->wt->shape[1] = 3, x->wt->stride[0] = 1, x->wt->stride[1] = 4;
  gb_safetensors_entry e[6] = {
      {"w", x->w},           {"b", x->b},         {"state.1.step", x->steps},
      {"scalar", x->scalar}, {"empty", x->empty}, {"a.wt", x->wt}};
  memcpy(x->e, e, sizeof e);
  x->m[0] = (gb_safetensors_meta){"format", "pt"};
  x->m[1] = (gb_safetensors_meta){"epoch", "3"};
  x->f = (gb_safetensors){6, x->e, 2, x->m};
}

static void fixture_free(gb_state *S, fixture *x) {
  gb_tensor *all[] = {x->w, x->b, x->steps, x->scalar, x->empty, x->base, x->wt};
  for (int i = 0; i < 7; i++)
    gb_tensor_release(S, all[i]);
}

static void test_round_trip(void) {
  gb_state *S = gb_state_new();
  fixture x;
  fixture_init(S, &x);
  char path[128];
  snprintf(path, sizeof path, "%s/rt.safetensors", dir);
  CHECK(gb_safetensors_save(S, path, &x.f) == GB_OK);
  gb_safetensors g;
  CHECK(gb_safetensors_load(S, path, &g) == GB_OK);
  const char *names[6] = {"a.wt", "b", "empty", "scalar", "state.1.step", "w"};
  gb_tensor *want[6] = {x.wt, x.b, x.empty, x.scalar, x.steps, x.w};
  CHECK(g.n == 6 && g.nmeta == 2);
  for (int i = 0; i < g.n && i < 6; i++) {
    CHECK(strcmp(g.entries[i].name, names[i]) == 0);
    CHECK(same_values(g.entries[i].tensor, want[i]));
    CHECK(g.entries[i].tensor->device == GB_CPU && gb_tensor_is_contiguous(g.entries[i].tensor));
  }
  for (int i = 0; i < g.nmeta; i++)
    CHECK((strcmp(g.meta[i].key, "format") == 0 && strcmp(g.meta[i].value, "pt") == 0) ||
          (strcmp(g.meta[i].key, "epoch") == 0 && strcmp(g.meta[i].value, "3") == 0));
  /* the in-memory parser agrees with the file loader */
  size_t len;
  unsigned char *bytes = slurp(path, &len);
  gb_safetensors h;
  CHECK(gb_safetensors_parse(S, "mem", bytes, len, &h) == GB_OK);
  CHECK(h.n == g.n);
  for (int i = 0; i < h.n && i < g.n; i++)
    CHECK(same_values(h.entries[i].tensor, g.entries[i].tensor));
  gb_safetensors_free(S, &h);
  gb_safetensors_free(S, &g);
  CHECK(g.n == 0 && g.entries == NULL);
  /* deterministic: the same set in another order gives identical bytes */
  gb_safetensors_entry tmp = x.e[0];
  x.e[0] = x.e[5], x.e[5] = tmp;
  char path2[128];
  snprintf(path2, sizeof path2, "%s/rt2.safetensors", dir);
  CHECK(gb_safetensors_save(S, path2, &x.f) == GB_OK);
  size_t len2;
  unsigned char *bytes2 = slurp(path2, &len2);
  CHECK(bytes2 && len2 == len && memcmp(bytes, bytes2, len) == 0);
  free(bytes2);
  free(bytes);
  /* an empty set is a valid file too */
  gb_safetensors none = {0};
  CHECK(gb_safetensors_save(S, path2, &none) == GB_OK);
  CHECK(gb_safetensors_load(S, path2, &g) == GB_OK && g.n == 0 && g.nmeta == 0);
  gb_safetensors_free(S, &g);
  CHECK(count_temps() == 0);
  fixture_free(S, &x);
  gb_state_free(S);
}

/* Read the file the way another framework would, without gpubp's reader. */
static void test_independent_layout(void) {
  gb_state *S = gb_state_new();
  fixture x;
  fixture_init(S, &x);
  char path[128];
  snprintf(path, sizeof path, "%s/layout.safetensors", dir);
  CHECK(gb_safetensors_save(S, path, &x.f) == GB_OK);
  size_t len;
  unsigned char *b = slurp(path, &len);
  CHECK(b && len >= 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--)
    n = n << 8 | b[i];
  CHECK(n % 8 == 0 && 8 + n <= len);
  CHECK(b[8] == '{');
  /* padding is spaces after the closing brace */
  size_t close = 8 + n - 1;
  while (close > 8 && b[close] == ' ')
    close--;
  CHECK(b[close] == '}' && 8 + n - 1 - close < 8);
  json_error_t err;
  json_t *root = json_loadb((const char *)b + 8, n, 0, &err);
  CHECK(root && json_is_object(root));
  /* __metadata__ first, then tensors in name order, as raw text */
  const char *hdr = (const char *)b + 8;
  const char *order[] = {"\"__metadata__\"", "\"a.wt\"",         "\"b\"", "\"empty\"",
                         "\"scalar\"",       "\"state.1.step\"", "\"w\""};
  const char *prev = hdr;
  for (int i = 0; i < 7; i++) {
    const char *at = strstr(hdr, order[i]);
    CHECK(at && at >= prev);
    if (at) prev = at;
  }
  json_t *meta = json_object_get(root, "__metadata__");
  CHECK(json_object_size(meta) == 2);
  CHECK(strcmp(json_string_value(json_object_get(meta, "format")), "pt") == 0);
  CHECK(strcmp(json_string_value(json_object_get(meta, "epoch")), "3") == 0);
  struct {
    const char *name, *dtype;
    int ndim;
    int64_t shape[2];
    uint64_t begin, end;
  } want[] = {
      {"a.wt", "F32", 2, {4, 3}, 0, 48},           {"b", "I32", 1, {4, 0}, 48, 64},
      {"empty", "F32", 2, {0, 3}, 64, 64},         {"scalar", "F32", 0, {0, 0}, 64, 68},
      {"state.1.step", "I64", 2, {2, 2}, 68, 100}, {"w", "F32", 2, {2, 3}, 100, 124},
  };
  const unsigned char *data = b + 8 + n;
  CHECK(len == 8 + n + 124);
  for (int i = 0; i < 6; i++) {
    json_t *e = json_object_get(root, want[i].name);
    CHECK(json_is_object(e));
    if (!e) continue;
    CHECK(strcmp(json_string_value(json_object_get(e, "dtype")), want[i].dtype) == 0);
    json_t *shape = json_object_get(e, "shape");
    CHECK(json_array_size(shape) == (size_t)want[i].ndim);
    for (int d = 0; d < want[i].ndim; d++)
      CHECK(json_integer_value(json_array_get(shape, (size_t)d)) == want[i].shape[d]);
    json_t *off = json_object_get(e, "data_offsets");
    CHECK(json_array_size(off) == 2);
    CHECK((uint64_t)json_integer_value(json_array_get(off, 0)) == want[i].begin);
    CHECK((uint64_t)json_integer_value(json_array_get(off, 1)) == want[i].end);
  }
  /* raw little-endian values: wt[i][j] = base[j][i] = 100 + (j*4 + i) * 0.5 */
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 3; j++) {
      float v;
      memcpy(&v, data + 4 * (i * 3 + j), 4);
      CHECK(v == 100.0f + (float)(j * 4 + i) * 0.5f);
    }
  int32_t b3 = (int32_t)(data[48 + 12] | data[48 + 13] << 8 | data[48 + 14] << 16 |
                         (uint32_t)data[48 + 15] << 24);
  CHECK(b3 == -7 + 3 * 3);
  float sc;
  memcpy(&sc, data + 64, 4);
  CHECK(sc == 42.25f);
  int64_t s3 = 0;
  for (int k = 7; k >= 0; k--)
    s3 = (int64_t)((uint64_t)s3 << 8 | data[68 + 24 + k]);
  CHECK(s3 == (5 + 3 * 3) * 1000000007LL);
  float w5;
  memcpy(&w5, data + 100 + 20, 4);
  CHECK(w5 == -1.0f + 5 * 0.5f);
  json_decref(root);
  free(b);
  fixture_free(S, &x);
  gb_state_free(S);
}

/* A file made of a JSON header and `data_len` zero bytes of data. */
static size_t build(unsigned char *out, const char *json, size_t data_len) {
  size_t n = strlen(json);
  for (int i = 0; i < 8; i++)
    out[i] = (unsigned char)((uint64_t)n >> (8 * i));
  memcpy(out + 8, json, n);
  memset(out + 8 + n, 0, data_len);
  return 8 + n + data_len;
}

/* parse() and load() of the same bytes fail with the same message (modulo the name). */
static void expect_bad(const char *tag, const unsigned char *bytes, size_t len, const char *msg) {
  gb_state *S = gb_state_new();
  char want[600], path[128];
  gb_safetensors f;
  snprintf(want, sizeof want, "load: %s: %s", tag, msg);
  gb_status st = gb_safetensors_parse(S, tag, bytes, len, &f);
  if (st != GB_EIO || strcmp(gb_state_error(S), want) != 0) {
    fprintf(stderr, "parse %s: got %d '%s'\n    want '%s'\n", tag, st, gb_state_error(S), want);
    failures++;
  }
  CHECK(f.n == 0 && f.entries == NULL);
  snprintf(path, sizeof path, "%s/%s", dir, tag);
  spit(path, bytes, len);
  snprintf(want, sizeof want, "load: %s: %s", path, msg);
  st = gb_safetensors_load(S, path, &f);
  if (st != GB_EIO || strcmp(gb_state_error(S), want) != 0) {
    fprintf(stderr, "load %s: got %d '%s'\n    want '%s'\n", tag, st, gb_state_error(S), want);
    failures++;
  }
  unlink(path);
  gb_state_free(S);
}

static void test_malformed(void) {
  unsigned char b[1024];
  size_t n;
  expect_bad("short", (const unsigned char *)"\x10\0\0", 3,
             "truncated: file is 3 bytes, too short for the 8-byte header length");
  n = build(b, "{}", 0);
  b[0] = 200;
  expect_bad("hdrlen", b, n, "truncated: header length 200 but only 2 bytes follow it");
  memcpy(b, "\0\0\0\0\0\0\1\0", 8);
  expect_bad("hdrhuge", b, n,
             "header length 281474976710656 is over the 100000000-byte limit (not a "
             "safetensors file?)");
  n = build(b, " {}", 0);
  expect_bad("notobj", b, n, "header does not start with '{' (not a safetensors file?)");
  n = build(b, "{\"a\":", 0);
  expect_bad("badjson", b, n,
             "header is not valid JSON: unexpected token near end of file (line 1, column 5)");
  n = build(b,
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
            8);
  expect_bad("dup", b, n,
             "header is not valid JSON: duplicate object key near '\"a\"' (line 1, column 57)");
  n = build(b, "{\"a\":[1]}", 0);
  expect_bad("entry", b, n, "tensor 'a': entry is not a JSON object");
  n = build(b, "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
  expect_bad("nodtype", b, n, "tensor 'a': missing or non-string \"dtype\"");
  n = build(b, "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2);
  expect_bad("f16", b, n, "tensor 'a': dtype \"F16\" not supported (F32, F64, I32, I64)");
  n = build(b, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4);
  expect_bad("negshape", b, n,
             "tensor 'a': \"shape\" must be an array of at most 8 non-negative integers");
  n = build(b, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
            4);
  expect_bad("ndim9", b, n,
             "tensor 'a': \"shape\" must be an array of at most 8 non-negative integers");
  n = build(b, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4);
  expect_bad("offs", b, n,
             "tensor 'a': \"data_offsets\" must be [begin, end] with 0 <= begin <= end");
  n = build(b, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20);
  expect_bad("span", b, n,
             "tensor 'a': shape (2,3) of F32 needs 24 bytes but data_offsets [0, 20] span 20");
  n = build(b,
            "{\"a\":{\"dtype\":\"I64\",\"shape\":[4294967296,4294967296],"
            "\"data_offsets\":[0,8]}}",
            8);
  expect_bad("huge", b, n,
             "tensor 'a': shape (4294967296,4294967296) is too large (more than 2^36 elements, "
             "counting sizes 0 as 1)");
  /* no elements, but strides of 2^124: refused before any stride is computed (issue 19) */
  n = build(b,
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[0,4611686018427387904,4611686018427387904],"
            "\"data_offsets\":[0,0]}}",
            0);
  expect_bad("empty_huge", b, n,
             "tensor 'a': shape (0,4611686018427387904,4611686018427387904) is too large (more "
             "than 2^36 elements, counting sizes 0 as 1)");
  n = build(b, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8);
  expect_bad("beyond", b, n,
             "tensor 'a': data_offsets [0, 16] are beyond the 8-byte data buffer (truncated "
             "file?)");
  n = build(b,
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
            12);
  expect_bad("overlap", b, n,
             "tensor 'b': data_offsets [4, 12] overlap another tensor (expected it to begin "
             "at 8)");
  n = build(b, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
  expect_bad("gap", b, n,
             "tensor 'a': data_offsets [4, 8] leave a gap (expected it to begin at 0)");
  n = build(b, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 7);
  expect_bad("trailing", b, n, "trailing garbage: 3 bytes after the last tensor's data");
  n = build(b, "{\"__metadata__\":[\"x\"]}", 0);
  expect_bad("metaarr", b, n, "\"__metadata__\" is not a JSON object");
  n = build(b, "{\"__metadata__\":{\"epoch\":3}}", 0);
  expect_bad("metaval", b, n, "\"__metadata__\" value for 'epoch' is not a string");
}

/* A truncated real file, a missing file and a directory are errors naming the path. */
static void test_file_errors(void) {
  gb_state *S = gb_state_new();
  fixture x;
  fixture_init(S, &x);
  char path[128], want[512];
  snprintf(path, sizeof path, "%s/cut.safetensors", dir);
  CHECK(gb_safetensors_save(S, path, &x.f) == GB_OK);
  size_t len;
  unsigned char *b = slurp(path, &len);
  spit(path, b, len - 10);
  gb_safetensors g;
  snprintf(want, sizeof want,
           "load: %s: tensor 'w': data_offsets [100, 124] are beyond the 114-byte data "
           "buffer (truncated file?)",
           path);
  CHECK(gb_safetensors_load(S, path, &g) == GB_EIO && strcmp(gb_state_error(S), want) == 0);
  free(b);
  snprintf(path, sizeof path, "%s/nope.safetensors", dir);
  snprintf(want, sizeof want, "load: %s: cannot open: No such file or directory", path);
  CHECK(gb_safetensors_load(S, path, &g) == GB_EIO && strcmp(gb_state_error(S), want) == 0);
  snprintf(want, sizeof want, "load: %s: not a regular file (it is a directory)", dir);
  CHECK(gb_safetensors_load(S, dir, &g) == GB_EIO && strcmp(gb_state_error(S), want) == 0);
  fixture_free(S, &x);
  gb_state_free(S);
}

/* Failed saves: the message names the path, the old file survives, no temporary remains. */
static void test_save_errors(void) {
  gb_state *S = gb_state_new();
  fixture x;
  fixture_init(S, &x);
  char path[128], want[512];
  /* missing directory */
  snprintf(path, sizeof path, "%s/no/such/dir/m.safetensors", dir);
  CHECK(gb_safetensors_save(S, path, &x.f) == GB_EIO);
  snprintf(want, sizeof want, "save: %s: cannot create temporary file %s.tmp.", path, path);
  CHECK(strncmp(gb_state_error(S), want, strlen(want)) == 0);
  const char *e = gb_state_error(S);
  CHECK(strlen(e) > 27 && strcmp(e + strlen(e) - 27, ": No such file or directory") == 0);
  /* the target is a directory: refused before any temporary is made */
  snprintf(path, sizeof path, "%s/adir", dir);
  mkdir(path, 0755);
  snprintf(want, sizeof want,
           "save: %s: not a regular file (it is a directory); refusing to "
           "replace it",
           path);
  CHECK(gb_safetensors_save(S, path, &x.f) == GB_EIO && strcmp(gb_state_error(S), want) == 0);
  CHECK(count_temps() == 0);
  rmdir(path);
  /* bad sets: the previous file is untouched */
  snprintf(path, sizeof path, "%s/keep.safetensors", dir);
  CHECK(gb_safetensors_save(S, path, &x.f) == GB_OK);
  size_t len0, len1;
  unsigned char *before = slurp(path, &len0);
  gb_safetensors_entry dup[2] = {{"w", x.w}, {"w", x.b}};
  gb_safetensors bad = {2, dup, 0, NULL};
  snprintf(want, sizeof want, "save: %s: duplicate tensor name 'w'", path);
  CHECK(gb_safetensors_save(S, path, &bad) == GB_EARG && strcmp(gb_state_error(S), want) == 0);
  gb_safetensors_entry res[1] = {{"__metadata__", x.w}};
  bad = (gb_safetensors){1, res, 0, NULL};
  snprintf(want, sizeof want, "save: %s: \"__metadata__\" is reserved, not a tensor name", path);
  CHECK(gb_safetensors_save(S, path, &bad) == GB_EARG && strcmp(gb_state_error(S), want) == 0);
  gb_safetensors_entry utf[1] = {{"bad\xff", x.w}};
  bad = (gb_safetensors){1, utf, 0, NULL};
  snprintf(want, sizeof want, "save: %s: tensor name 'bad\xff' is not valid UTF-8", path);
  CHECK(gb_safetensors_save(S, path, &bad) == GB_EARG && strcmp(gb_state_error(S), want) == 0);
  x.w->device = GB_DEVICE(GB_KIND_CUDA,
                          0); /* pretend it lives on a GPU: the C writer refuses device memory */
  snprintf(want, sizeof want, "save: %s: tensor 'w' is on cuda:0; copy it to the CPU first", path);
  CHECK(gb_safetensors_save(S, path, &x.f) == GB_EDEVICE && strcmp(gb_state_error(S), want) == 0);
  x.w->device = GB_CPU;
  unsigned char *after = slurp(path, &len1);
  CHECK(len0 == len1 && memcmp(before, after, len0) == 0);
  CHECK(count_temps() == 0);
  free(before);
  free(after);
  fixture_free(S, &x);
  gb_state_free(S);
}

/* Disk full, simulated with RLIMIT_FSIZE in a child: the write fails (EFBIG), the error
 * names the path, the old file survives and the temporary is removed. */
static void test_disk_full(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/full.safetensors", dir);
  gb_state *S = gb_state_new();
  fixture x;
  fixture_init(S, &x);
  CHECK(gb_safetensors_save(S, path, &x.f) == GB_OK);
  size_t len0;
  unsigned char *before = slurp(path, &len0);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    free(before);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {4096, 4096};
    setrlimit(RLIMIT_FSIZE, &rl);
    int64_t shape[1] = {1 << 16};
    gb_tensor *big = make(S, GB_F32, 1, shape, 0);
    gb_safetensors_entry e = {"big", big};
    gb_safetensors f = {1, &e, 0, NULL};
    char want[256];
    snprintf(want, sizeof want, "save: %s: write failed: File too large", path);
    gb_status st = gb_safetensors_save(S, path, &f);
    if (st != GB_EIO || strcmp(gb_state_error(S), want) != 0) {
      fprintf(stderr, "disk full: got %d '%s'\n    want '%s'\n", st, gb_state_error(S), want);
      _exit(1);
    }
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "disk-full child: status 0x%x\n", (unsigned)status);
    failures++;
  }
  size_t len1;
  unsigned char *after = slurp(path, &len1);
  CHECK(len0 == len1 && memcmp(before, after, len0) == 0);
  CHECK(count_temps() == 0);
  free(before);
  free(after);
  fixture_free(S, &x);
  gb_state_free(S);
}

int main(void) {
  gb_cpu_backend_register();
  snprintf(dir, sizeof dir, "/tmp/gb_test_st.XXXXXX");
  if (!mkdtemp(dir)) return 1;
  test_round_trip();
  test_independent_layout();
  test_malformed();
  test_file_errors();
  test_save_errors();
  test_disk_full();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) failures++;
  if (failures)
    fprintf(stderr, "test_safetensors: %d failure(s)\n", failures);
  else
    printf("test_safetensors: ok\n");
  return failures ? 1 : 0;
}
