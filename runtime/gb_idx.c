/* gb_idx.c — IDX reader (see gb_idx.h). The header check and the element conversion are
 * shared by the in-memory parser (used by the fuzz harness) and the streaming file reader,
 * so both give the same answer and the same message for the same bytes. */
#define _POSIX_C_SOURCE 200809L

#include "gb_idx.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* More elements than this is treated as a corrupt header, not an allocation request. */
#define IDX_MAX_ELEMS ((uint64_t)1 << 40)
/* Trailing bytes are counted up to this many, then reported as "at least". */
#define IDX_MAX_TRAILING_COUNT ((uint64_t)1 << 30)

typedef struct idx_header {
  int type;   /* element type code, 0x08..0x0E */
  int elsize; /* bytes per element */
  int ndim;
  int64_t shape[GB_MAXDIM];
  size_t hdr_bytes;    /* 4 + 4 * ndim */
  uint64_t data_bytes; /* numel * elsize */
} idx_header;

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int type_size(int type) {
  switch (type) {
  case 0x08:
  case 0x09: return 1;
  case 0x0B: return 2;
  case 0x0C:
  case 0x0D: return 4;
  case 0x0E: return 8;
  default: return 0;
  }
}

static const char *type_name(int type) {
  switch (type) {
  case 0x08: return "uint8";
  case 0x09: return "int8";
  case 0x0B: return "int16";
  case 0x0C: return "int32";
  case 0x0D: return "float32";
  default: return "float64";
  }
}

/* Validate the header held in p[0..len) (len may be short or include the data). */
static gb_status idx_parse_header(gb_state *S, const char *name, const uint8_t *p, size_t len,
                                  idx_header *h) {
  if (len < 4)
    return gb_errorf(S, GB_EIO, "read_idx: %s: truncated header: expected 4 bytes, got %zu", name,
                     len);
  uint32_t magic = be32(p);
  if (p[0] != 0 || p[1] != 0)
    return gb_errorf(S, GB_EIO,
                     "read_idx: %s: bad magic 0x%08X: not an IDX file (expected 0x0000TTNN, "
                     "e.g. 0x00000803 for images, 0x00000801 for labels)",
                     name, (unsigned)magic);
  h->type = p[2];
  h->elsize = type_size(h->type);
  if (h->elsize == 0)
    return gb_errorf(S, GB_EIO,
                     "read_idx: %s: bad magic 0x%08X: unknown element type 0x%02X (expected "
                     "0x08 uint8, 0x09, 0x0B, 0x0C, 0x0D or 0x0E)",
                     name, (unsigned)magic, (unsigned)h->type);
  h->ndim = p[3];
  if (h->ndim < 1 || h->ndim > GB_MAXDIM)
    return gb_errorf(S, GB_EIO, "read_idx: %s: bad magic 0x%08X: %d dimensions (expected 1..%d)",
                     name, (unsigned)magic, h->ndim, GB_MAXDIM);
  h->hdr_bytes = 4 + 4 * (size_t)h->ndim;
  if (len < h->hdr_bytes)
    return gb_errorf(S, GB_EIO, "read_idx: %s: truncated header: expected %zu bytes, got %zu", name,
                     h->hdr_bytes, len);
  uint64_t numel = 1;
  bool too_big = false;
  for (int i = 0; i < h->ndim; i++) {
    uint32_t d = be32(p + 4 + 4 * i);
    if (d == 0)
      return gb_errorf(S, GB_EIO, "read_idx: %s: dimension %d of %d is 0", name, i + 1, h->ndim);
    h->shape[i] = d;
    /* numel <= 2^40 and d < 2^32, so the product fits before the check trips. */
    if (!too_big) {
      numel *= d;
      if (numel > IDX_MAX_ELEMS) too_big = true;
    }
  }
  if (too_big) {
    char dims[GB_MAXDIM * 12 + 1];
    size_t off = 0;
    for (int i = 0; i < h->ndim; i++)
      off += (size_t)snprintf(dims + off, sizeof dims - off, "%s%lld", i ? "x" : "",
                              (long long)h->shape[i]);
    return gb_errorf(S, GB_EIO, "read_idx: %s: dimensions %s are too large (over 2^40 elements)",
                     name, dims);
  }
  h->data_bytes = numel * (uint64_t)h->elsize;
  return GB_OK;
}

static gb_status check_dtype(gb_state *S, const char *name, const idx_header *h, gb_dtype dt) {
  if (dt != GB_F32 && dt != GB_I32 && dt != GB_I64)
    return gb_errorf(S, GB_EARG, "read_idx: %s: unsupported dtype %d", name, (int)dt);
  if (dt != GB_F32 && (h->type == 0x0D || h->type == 0x0E))
    return gb_errorf(S, GB_EDTYPE, "read_idx: %s: %s elements cannot be read as %s", name,
                     type_name(h->type), gb_dtype_name(dt));
  return GB_OK;
}

/* Element i of big-endian data of type `type`, as double (exact for every integer type and
 * for float32; float64 is rounded later to float32 anyway). */
static double idx_get(int type, const uint8_t *p, size_t i) {
  switch (type) {
  case 0x08: return p[i];
  case 0x09: return (int8_t)p[i];
  case 0x0B: return (int16_t)(uint16_t)((unsigned)p[2 * i] << 8 | p[2 * i + 1]);
  case 0x0C: return (int32_t)be32(p + 4 * i);
  case 0x0D: {
    uint32_t u = be32(p + 4 * i);
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  default: {
    uint64_t u = (uint64_t)be32(p + 8 * i) << 32 | be32(p + 8 * i + 4);
    double d;
    memcpy(&d, &u, 8);
    return d;
  }
  }
}

/* Convert n elements starting at element index `first` of the tensor. */
static void idx_convert(const idx_header *h, const uint8_t *src, size_t n, gb_tensor *t,
                        size_t first) {
  void *dst = gb_tensor_data(t);
  if (h->type == 0x08) { /* the MNIST case, kept tight */
    if (t->dtype == GB_F32)
      for (size_t i = 0; i < n; i++) ((float *)dst)[first + i] = (float)src[i];
    else if (t->dtype == GB_I32)
      for (size_t i = 0; i < n; i++) ((int32_t *)dst)[first + i] = src[i];
    else
      for (size_t i = 0; i < n; i++) ((int64_t *)dst)[first + i] = src[i];
    return;
  }
  for (size_t i = 0; i < n; i++) {
    double v = idx_get(h->type, src, i);
    if (t->dtype == GB_F32)
      ((float *)dst)[first + i] = (float)v;
    else if (t->dtype == GB_I32)
      ((int32_t *)dst)[first + i] = (int32_t)v;
    else
      ((int64_t *)dst)[first + i] = (int64_t)v;
  }
}

static gb_status check_length(gb_state *S, const char *name, const idx_header *h, uint64_t avail,
                              bool at_least) {
  if (avail < h->data_bytes)
    return gb_errorf(S, GB_EIO, "read_idx: %s: truncated: expected %llu data bytes, got %llu", name,
                     (unsigned long long)h->data_bytes, (unsigned long long)avail);
  if (avail > h->data_bytes)
    return gb_errorf(S, GB_EIO,
                     "read_idx: %s: trailing garbage: %s%llu bytes after the %llu data bytes", name,
                     at_least ? "at least " : "", (unsigned long long)(avail - h->data_bytes),
                     (unsigned long long)h->data_bytes);
  return GB_OK;
}

gb_status gb_idx_parse(gb_state *S, const char *name, const void *bytes, size_t len, gb_dtype dt,
                       gb_tensor **out) {
  const uint8_t *p = bytes;
  idx_header h;
  gb_status st = idx_parse_header(S, name, p, len, &h);
  if (st == GB_OK) st = check_length(S, name, &h, len - h.hdr_bytes, false);
  if (st == GB_OK) st = check_dtype(S, name, &h, dt);
  if (st != GB_OK) return st;
  gb_tensor *t;
  if ((st = gb_tensor_empty(S, h.ndim, h.shape, dt, GB_CPU, &t)) != GB_OK) return st;
  idx_convert(&h, p + h.hdr_bytes, (size_t)(h.data_bytes / (uint64_t)h.elsize), t, 0);
  *out = t;
  return GB_OK;
}

/* ---- streaming file reader ---------------------------------------------------------------- */

typedef struct idx_stream {
  gzFile gz;
  const char *path;
  bool failed; /* a gzip/read error was recorded on S */
} idx_stream;

/* Read up to n bytes; returns the count. A zlib error sets s->failed and the message. */
static size_t stream_read(gb_state *S, idx_stream *s, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    size_t want = n - got > (1u << 30) ? (1u << 30) : n - got;
    int r = gzread(s->gz, (char *)buf + got, (unsigned)want);
    if (r < 0) {
      int errnum;
      const char *msg = gzerror(s->gz, &errnum);
      if (errnum == Z_ERRNO) msg = strerror(errno);
      /* gzdopen'ed streams prefix "<fd:N>: "; the path is in our own prefix already. */
      else if (msg && strncmp(msg, "<fd:", 4) == 0 && strstr(msg, ": "))
        msg = strstr(msg, ": ") + 2;
      gb_errorf(S, GB_EIO, "read_idx: %s: gzip: %s", s->path, msg ? msg : "read error");
      s->failed = true;
      return got;
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  return got;
}

/* Reads the data bytes into a buffer that grows only as bytes actually arrive, so a header
 * claiming terabytes cannot make us allocate them. */
static gb_status read_data(gb_state *S, idx_stream *s, const idx_header *h, uint8_t **data) {
  size_t cap = h->data_bytes < (1u << 20) ? (size_t)h->data_bytes : (1u << 20), have = 0;
  uint8_t *buf = malloc(cap ? cap : 1);
  if (!buf) return gb_errorf(S, GB_EOOM, "read_idx: %s: out of memory", s->path);
  for (;;) {
    size_t got = stream_read(S, s, buf + have, cap - have);
    have += got;
    if (s->failed || have < cap || cap == h->data_bytes) break;
    size_t ncap = cap * 2 > h->data_bytes ? (size_t)h->data_bytes : cap * 2;
    uint8_t *nbuf = realloc(buf, ncap);
    if (!nbuf) {
      free(buf);
      return gb_errorf(S, GB_EOOM, "read_idx: %s: out of memory reading %llu data bytes", s->path,
                       (unsigned long long)h->data_bytes);
    }
    buf = nbuf, cap = ncap;
  }
  if (s->failed) {
    free(buf);
    return GB_EIO;
  }
  /* Count what follows the data (zero if the file ends where it should). */
  uint64_t trailing = 0;
  uint8_t scratch[4096];
  while (trailing < IDX_MAX_TRAILING_COUNT) {
    size_t got = stream_read(S, s, scratch, sizeof scratch);
    if (s->failed) {
      free(buf);
      return GB_EIO;
    }
    if (got == 0) break;
    trailing += got;
  }
  /* zlib reports a gzip stream cut short (even just its CRC trailer) only via gzerror. */
  int errnum = Z_OK;
  gzerror(s->gz, &errnum);
  gb_status st = GB_OK;
  if (errnum == Z_BUF_ERROR)
    st = gb_errorf(S, GB_EIO,
                   "read_idx: %s: truncated: gzip stream ends early (got %llu of %llu data bytes)",
                   s->path, (unsigned long long)have, (unsigned long long)h->data_bytes);
  if (st == GB_OK)
    st = check_length(S, s->path, h, have + trailing, trailing >= IDX_MAX_TRAILING_COUNT);
  if (st != GB_OK) {
    free(buf);
    return st;
  }
  *data = buf;
  return GB_OK;
}

gb_status gb_idx_read(gb_state *S, const char *path, gb_dtype dt, gb_tensor **out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return gb_errorf(S, GB_EIO, "read_idx: %s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    close(fd);
    return gb_errorf(S, GB_EIO, "read_idx: %s: cannot read: %s", path, strerror(EISDIR));
  }
  idx_stream s = {gzdopen(fd, "rb"), path, false};
  if (!s.gz) {
    close(fd);
    return gb_errorf(S, GB_EOOM, "read_idx: %s: out of memory opening the file", path);
  }
  gzbuffer(s.gz, 1u << 17);
  uint8_t hdr[4 + 4 * 255];
  size_t len = stream_read(S, &s, hdr, 4);
  if (!s.failed && len == 4 && hdr[0] == 0 && hdr[1] == 0 && hdr[3] <= GB_MAXDIM)
    len += stream_read(S, &s, hdr + 4, 4 * (size_t)hdr[3]);
  idx_header h;
  uint8_t *data = NULL;
  gb_status st = s.failed ? GB_EIO : idx_parse_header(S, path, hdr, len, &h);
  if (st == GB_OK) st = read_data(S, &s, &h, &data);
  if (st == GB_OK) st = check_dtype(S, path, &h, dt);
  gb_tensor *t = NULL;
  if (st == GB_OK) st = gb_tensor_empty(S, h.ndim, h.shape, dt, GB_CPU, &t);
  if (st == GB_OK) idx_convert(&h, data, (size_t)(h.data_bytes / (uint64_t)h.elsize), t, 0);
  free(data);
  gzclose(s.gz);
  if (st == GB_OK) *out = t;
  return st;
}
