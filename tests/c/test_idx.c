/* test_idx.c — the IDX reader: good files (raw and gzip, every element type, every target
 * dtype) give the right shapes and values; each class of malformed file gives exactly the
 * expected message, identically from the file reader and the in-memory parser. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "gb_cpu.h"
#include "gb_idx.h"
#include "check.h"

static char dir[64];

/* Write `len` bytes to dir/name, gzip-compressed when gz; returns the path (static buffer). */
static const char *write_file(const char *name, const void *bytes, size_t len, int gz) {
  static char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (gz) {
    gzFile f = gzopen(path, "wb");
    if (len) gzwrite(f, bytes, (unsigned)len);
    gzclose(f);
  } else {
    FILE *f = fopen(path, "wb");
    fwrite(bytes, 1, len, f);
    fclose(f);
  }
  return path;
}

static size_t put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
  return 4;
}

/* An IDX image: magic, dims, then `ndata` bytes following the pattern i*7 mod 256. */
static size_t make_idx(uint8_t *buf, uint32_t magic, int ndim, const uint32_t *dims, size_t ndata) {
  size_t n = put_be32(buf, magic);
  for (int i = 0; i < ndim; i++)
    n += put_be32(buf + n, dims[i]);
  for (size_t i = 0; i < ndata; i++)
    buf[n++] = (uint8_t)(i * 7);
  return n;
}

/* The expected message for `name` is `fmt` with the file name substituted for %s. Checks
 * the in-memory parser, the raw file and the gzip file all fail the same way. */
static void expect_error(const char *what, const uint8_t *bytes, size_t len, gb_dtype dt,
                         gb_status want, const char *suffix) {
  gb_state *S = gb_state_new();
  char want_msg[512];
  gb_tensor *t = NULL;
  snprintf(want_msg, sizeof want_msg, "read_idx: %s: %s", what, suffix);
  gb_status st = gb_idx_parse(S, what, bytes, len, dt, &t);
  if (st != want || strcmp(gb_state_error(S), want_msg) != 0) {
    fprintf(stderr, "parse %s: got %d '%s'\n   want %d '%s'\n", what, st, gb_state_error(S), want,
            want_msg);
    failures++;
  }
  for (int gz = 0; gz < 2; gz++) {
    char name[128];
    snprintf(name, sizeof name, "%s%s", what, gz ? ".gz" : "");
    const char *path = write_file(name, bytes, len, gz);
    snprintf(want_msg, sizeof want_msg, "read_idx: %s: %s", path, suffix);
    st = gb_idx_read(S, path, dt, &t);
    if (st != want || strcmp(gb_state_error(S), want_msg) != 0) {
      fprintf(stderr, "read %s: got %d '%s'\n   want %d '%s'\n", path, st, gb_state_error(S), want,
              want_msg);
      failures++;
    }
    unlink(path);
  }
  gb_state_free(S);
}

static void test_good_files(void) {
  gb_state *S = gb_state_new();
  uint8_t buf[256];
  uint32_t dims[3] = {2, 3, 4};
  size_t n = make_idx(buf, 0x00000803, 3, dims, 24);
  for (int gz = 0; gz < 2; gz++) {
    const char *path = write_file(gz ? "img.gz" : "img", buf, n, gz);
    gb_tensor *t = NULL;
    CHECK(gb_idx_read(S, path, GB_F32, &t) == GB_OK);
    if (!t) continue;
    CHECK(t->ndim == 3 && t->shape[0] == 2 && t->shape[1] == 3 && t->shape[2] == 4);
    CHECK(t->dtype == GB_F32 && t->device == GB_CPU && gb_tensor_is_contiguous(t));
    for (int i = 0; i < 24; i++)
      CHECK(gb_tensor_f32(t)[i] == (float)(uint8_t)(i * 7));
    gb_tensor_release(S, t);
  }
  uint32_t ldim[1] = {40}; /* labels as int64 and int32: values above 127 stay unsigned */
  n = make_idx(buf, 0x00000801, 1, ldim, 40);
  gb_tensor *t = NULL;
  CHECK(gb_idx_parse(S, "labels", buf, n, GB_I64, &t) == GB_OK);
  if (t) {
    CHECK(t->ndim == 1 && t->shape[0] == 40 && t->dtype == GB_I64);
    for (int i = 0; i < 40; i++)
      CHECK(((int64_t *)gb_tensor_data(t))[i] == (uint8_t)(i * 7));
    gb_tensor_release(S, t);
  }
  t = NULL;
  CHECK(gb_idx_parse(S, "labels", buf, n, GB_I32, &t) == GB_OK);
  if (t) {
    CHECK(((int32_t *)gb_tensor_data(t))[39] == (uint8_t)(39 * 7));
    gb_tensor_release(S, t);
  }
  gb_state_free(S);
}

/* Every element type, big-endian, with negative values where the type allows. */
static void test_element_types(void) {
  gb_state *S = gb_state_new();
  uint8_t buf[64];
  size_t n;
  gb_tensor *t;
  /* int8: -2, 5 */
  n = put_be32(buf, 0x00000901);
  n += put_be32(buf + n, 2);
  buf[n++] = 0xFE, buf[n++] = 5;
  t = NULL;
  CHECK(gb_idx_parse(S, "i8", buf, n, GB_I64, &t) == GB_OK);
  if (t) CHECK(((int64_t *)gb_tensor_data(t))[0] == -2 && ((int64_t *)gb_tensor_data(t))[1] == 5);
  gb_tensor_release(S, t);
  /* int16: -300 */
  n = put_be32(buf, 0x00000B01);
  n += put_be32(buf + n, 1);
  buf[n++] = 0xFE, buf[n++] = 0xD4;
  t = NULL;
  CHECK(gb_idx_parse(S, "i16", buf, n, GB_F32, &t) == GB_OK);
  if (t) CHECK(gb_tensor_f32(t)[0] == -300.0f);
  gb_tensor_release(S, t);
  /* int32: -70000 */
  n = put_be32(buf, 0x00000C01);
  n += put_be32(buf + n, 1);
  n += put_be32(buf + n, (uint32_t)-70000);
  t = NULL;
  CHECK(gb_idx_parse(S, "i32", buf, n, GB_I32, &t) == GB_OK);
  if (t) CHECK(((int32_t *)gb_tensor_data(t))[0] == -70000);
  gb_tensor_release(S, t);
  /* float32: 1.5 = 0x3FC00000; float64: -0.25 = 0xBFD0000000000000 */
  n = put_be32(buf, 0x00000D01);
  n += put_be32(buf + n, 1);
  n += put_be32(buf + n, 0x3FC00000);
  t = NULL;
  CHECK(gb_idx_parse(S, "f32", buf, n, GB_F32, &t) == GB_OK);
  if (t) CHECK(gb_tensor_f32(t)[0] == 1.5f);
  gb_tensor_release(S, t);
  expect_error("f32", buf, n, GB_I64, GB_EDTYPE, "float32 elements cannot be read as int64");
  n = put_be32(buf, 0x00000E01);
  n += put_be32(buf + n, 1);
  n += put_be32(buf + n, 0xBFD00000);
  n += put_be32(buf + n, 0);
  t = NULL;
  CHECK(gb_idx_parse(S, "f64", buf, n, GB_F32, &t) == GB_OK);
  if (t) CHECK(gb_tensor_f32(t)[0] == -0.25f);
  gb_tensor_release(S, t);
  /* float64 elements read as float64 keep every bit: 1 + 2^-52 = 0x3FF0000000000001 */
  n = put_be32(buf, 0x00000E01);
  n += put_be32(buf + n, 1);
  n += put_be32(buf + n, 0x3FF00000);
  n += put_be32(buf + n, 1);
  t = NULL;
  CHECK(gb_idx_parse(S, "f64", buf, n, GB_F64, &t) == GB_OK);
  if (t) CHECK(t->dtype == GB_F64 && ((double *)gb_tensor_data(t))[0] == 1.0 + 0x1p-52);
  gb_tensor_release(S, t);
  gb_state_free(S);
}

static void test_malformed(void) {
  uint8_t buf[4096];
  uint32_t d3[3] = {2, 3, 4}, d1[1] = {1000};
  size_t n;
  /* wrong magic: little-endian written 0x803 */
  n = make_idx(buf, 0x03080000, 0, NULL, 0);
  expect_error("le-magic", buf, n, GB_F32, GB_EIO,
               "bad magic 0x03080000: not an IDX file (expected 0x0000TTNN, e.g. 0x00000803 "
               "for images, 0x00000801 for labels)");
  n = make_idx(buf, 0x00000A01, 0, NULL, 0);
  expect_error("type", buf, n, GB_F32, GB_EIO,
               "bad magic 0x00000A01: unknown element type 0x0A (expected 0x08 uint8, 0x09, "
               "0x0B, 0x0C, 0x0D or 0x0E)");
  n = make_idx(buf, 0x00000800, 0, NULL, 16);
  expect_error("ndim0", buf, n, GB_F32, GB_EIO,
               "bad magic 0x00000800: 0 dimensions (expected 1..8)");
  n = make_idx(buf, 0x00000809, 0, NULL, 64);
  expect_error("ndim9", buf, n, GB_F32, GB_EIO,
               "bad magic 0x00000809: 9 dimensions (expected 1..8)");
  expect_error("empty", buf, 0, GB_F32, GB_EIO, "truncated header: expected 4 bytes, got 0");
  n = make_idx(buf, 0x00000803, 1, d3, 0);
  expect_error("shorthdr", buf, n, GB_F32, GB_EIO, "truncated header: expected 16 bytes, got 8");
  uint32_t dz[3] = {2, 0, 4};
  n = make_idx(buf, 0x00000803, 3, dz, 0);
  expect_error("zerodim", buf, n, GB_F32, GB_EIO, "dimension 2 of 3 is 0");
  uint32_t dh[3] = {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF};
  n = make_idx(buf, 0x00000803, 3, dh, 100);
  expect_error("huge", buf, n, GB_F32, GB_EIO,
               "dimensions 4294967295x4294967295x4294967295 are too large (over 2^40 elements)");
  uint32_t dbig[1] = {0xFFFFFFFF}; /* under 2^40 elements, over the 1 GiB data limit */
  n = make_idx(buf, 0x00000801, 1, dbig, 10);
  expect_error("claims4g", buf, n, GB_F32, GB_EIO,
               "the header declares 4294967295 data bytes, over the limit of 1073741824 (1 GiB)");
  uint32_t dlim[1] = {0x3FFFFFFF}; /* within the limit, but the file holds 10 bytes: no alloc */
  n = make_idx(buf, 0x00000801, 1, dlim, 10);
  gb_state *S = gb_state_new();
  gb_tensor *t = NULL;
  CHECK(gb_idx_parse(S, "claims1g", buf, n, GB_F32, &t) == GB_EIO);
  CHECK(strcmp(gb_state_error(S),
               "read_idx: claims1g: truncated: expected 1073741823 data bytes, got 10") == 0);
  gb_state_free(S);
  n = make_idx(buf, 0x00000801, 1, d1, 10);
  expect_error("trunc", buf, n, GB_F32, GB_EIO, "truncated: expected 1000 data bytes, got 10");
  n = make_idx(buf, 0x00000803, 3, d3, 26);
  expect_error("trailing", buf, n, GB_I64, GB_EIO,
               "trailing garbage: 2 bytes after the 24 data bytes");
}

/* Damage that only exists in the gzip layer or the file system. */
static void test_gzip_and_fs(void) {
  gb_state *S = gb_state_new();
  gb_tensor *t = NULL;
  char want[512];
  uint8_t raw[64];
  uint32_t d3[3] = {2, 3, 4};
  size_t n = make_idx(raw, 0x00000803, 3, d3, 24);
  /* a compressed copy, then corrupt versions of it */
  uLongf zlen = 256;
  uint8_t z[256];
  char good[256];
  snprintf(good, sizeof good, "%s", write_file("good.gz", raw, n, 1));
  FILE *f = fopen(good, "rb");
  zlen = (uLongf)fread(z, 1, sizeof z, f);
  fclose(f);
  const char *path = write_file("garbage.gz", "\x1f\x8b\x01\x02\x03\x04\x05\x06\x07\x08", 10, 0);
  snprintf(want, sizeof want, "read_idx: %s: gzip: unknown compression method", path);
  CHECK(gb_idx_read(S, path, GB_F32, &t) == GB_EIO && strcmp(gb_state_error(S), want) == 0);
  path = write_file("cut.gz", z, zlen / 2, 0);
  snprintf(want, sizeof want, "read_idx: %s: truncated: gzip stream ends early", path);
  CHECK(gb_idx_read(S, path, GB_F32, &t) == GB_EIO &&
        strncmp(gb_state_error(S), want, strlen(want)) == 0);
  path = write_file("notrailer.gz", z, zlen - 8, 0);
  snprintf(want, sizeof want,
           "read_idx: %s: truncated: gzip stream ends early (got 24 of 24 data bytes)", path);
  CHECK(gb_idx_read(S, path, GB_F32, &t) == GB_EIO && strcmp(gb_state_error(S), want) == 0);
  /* bytes after the gzip stream are garbage just as after a raw file's data */
  uint8_t zj[300];
  memcpy(zj, z, zlen);
  memcpy(zj + zlen, "junk", 4);
  path = write_file("junk.gz", zj, zlen + 4, 0);
  snprintf(want, sizeof want, "read_idx: %s: trailing garbage after the gzip stream", path);
  CHECK(gb_idx_read(S, path, GB_F32, &t) == GB_EIO && strcmp(gb_state_error(S), want) == 0);
  /* ...but a second gzip member continues the data (as gzip -c a b > ab does) */
  char part2[256];
  snprintf(part2, sizeof part2, "%s", write_file("p2.gz", raw + 10, n - 10, 1));
  FILE *p2 = fopen(part2, "rb");
  size_t z2 = fread(zj, 1, sizeof zj, p2);
  fclose(p2);
  path = write_file("p1.gz", raw, 10, 1);
  FILE *p1 = fopen(path, "ab");
  fwrite(zj, 1, z2, p1);
  fclose(p1);
  CHECK(gb_idx_read(S, path, GB_F32, &t) == GB_OK && t && t->numel == 24 &&
        gb_tensor_f32(t)[23] == (float)(uint8_t)(23 * 7));
  gb_tensor_release(S, t);
  t = NULL;
  z[zlen - 6] ^= 0xFF; /* CRC */
  path = write_file("crc.gz", z, zlen, 0);
  snprintf(want, sizeof want, "read_idx: %s: gzip: incorrect data check", path);
  CHECK(gb_idx_read(S, path, GB_F32, &t) == GB_EIO && strcmp(gb_state_error(S), want) == 0);
  snprintf(want, sizeof want, "read_idx: %s/missing.gz: cannot open: No such file or directory",
           dir);
  char missing[128];
  snprintf(missing, sizeof missing, "%s/missing.gz", dir);
  CHECK(gb_idx_read(S, missing, GB_F32, &t) == GB_EIO && strcmp(gb_state_error(S), want) == 0);
  snprintf(want, sizeof want, "read_idx: %s: not a regular file (it is a directory)", dir);
  CHECK(gb_idx_read(S, dir, GB_F32, &t) == GB_EIO && strcmp(gb_state_error(S), want) == 0);
  CHECK(t == NULL);
  /* the runtime still works after all that */
  CHECK(gb_idx_read(S, good, GB_F32, &t) == GB_OK && t && t->numel == 24);
  gb_tensor_release(S, t);
  gb_state_free(S);
}

/* Larger than the reader's first 1 MB buffer: the growth path, raw and gzip. */
static void test_large(void) {
  gb_state *S = gb_state_new();
  uint32_t dims[2] = {1500, 1000};
  size_t ndata = 1500 * 1000;
  uint8_t *buf = malloc(12 + ndata + 1);
  size_t n = make_idx(buf, 0x00000802, 2, dims, ndata);
  for (int gz = 0; gz < 2; gz++) {
    const char *path = write_file(gz ? "large.gz" : "large", buf, n, gz);
    gb_tensor *t = NULL;
    CHECK(gb_idx_read(S, path, GB_I32, &t) == GB_OK);
    if (t) {
      const int32_t *v = gb_tensor_data(t);
      CHECK(t->shape[0] == 1500 && t->shape[1] == 1000);
      CHECK(v[0] == 0 && v[ndata - 1] == (uint8_t)((ndata - 1) * 7) &&
            v[777777] == (uint8_t)(777777 * 7));
    }
    gb_tensor_release(S, t);
    unlink(path);
  }
  buf[n] = 9; /* one byte too many, found after 1.5 MB */
  const char *path = write_file("large1", buf, n + 1, 0);
  char want[256];
  snprintf(want, sizeof want,
           "read_idx: %s: trailing garbage: 1 bytes after the 1500000 data bytes", path);
  gb_tensor *t = NULL;
  CHECK(gb_idx_read(S, path, GB_F32, &t) == GB_EIO && strcmp(gb_state_error(S), want) == 0);
  free(buf);
  gb_state_free(S);
}

/* The committed fixture (also a fuzz seed) reads as documented in tests/fixtures/README.md. */
static void test_fixture(void) {
  gb_state *S = gb_state_new();
  gb_tensor *x = NULL, *y = NULL;
  CHECK(gb_idx_read(S, "tests/fixtures/idx/tiny-images-idx3-ubyte.gz", GB_F32, &x) == GB_OK);
  CHECK(gb_idx_read(S, "tests/fixtures/idx/tiny-labels-idx1-ubyte", GB_I64, &y) == GB_OK);
  if (x && y) {
    CHECK(x->ndim == 3 && x->shape[0] == 3 && x->shape[1] == 28 && x->shape[2] == 28);
    CHECK(y->ndim == 1 && y->shape[0] == 3);
    int64_t *lab = gb_tensor_data(y);
    CHECK(lab[0] == 7 && lab[1] == 2 && lab[2] == 1);
    /* image k has pixel (r, c) = (r * 28 + c + k) % 256 */
    const float *px = gb_tensor_f32(x);
    CHECK(px[0] == 0.0f && px[28 * 28 + 5] == 6.0f &&
          px[2 * 784 + 783] == (float)((783 + 2) % 256));
  } else {
    fprintf(stderr, "fixture: %s\n", gb_state_error(S));
  }
  gb_tensor_release(S, x);
  gb_tensor_release(S, y);
  gb_state_free(S);
}

int main(void) {
  gb_cpu_backend_register();
  snprintf(dir, sizeof dir, "/tmp/gb_test_idx.XXXXXX");
  if (!mkdtemp(dir)) return 1;
  test_good_files();
  test_element_types();
  test_malformed();
  test_gzip_and_fs();
  test_large();
  test_fixture();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) failures++;
  if (failures)
    fprintf(stderr, "test_idx: %d failure(s)\n", failures);
  else
    printf("test_idx: ok\n");
  return failures ? 1 : 0;
}
