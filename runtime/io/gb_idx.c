/* gb_idx.c — IDX reader (see gb_idx.h). The header check and the element conversion are
 * shared by the in-memory parser (used by the fuzz harness) and the streaming file reader,
 * so both give the same answer and the same message for the same bytes. */
#define _POSIX_C_SOURCE 200809L

#include "gb_idx.h"

#include "gb_fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* More elements than this is treated as a corrupt header, not an allocation request. */
#define IDX_MAX_ELEMS ((uint64_t)1 << 40)
/* The most data bytes a header may declare (docs/reliability.md): the largest common IDX
 * set, EMNIST ByClass, has 547 MB. A gzip bomb claiming more is refused before inflating. */
#define IDX_MAX_DATA_BYTES ((uint64_t)1 << 30)
/* deflate cannot expand one byte into more than 1032; a header claiming more data than the
 * compressed file could hold is refused before inflating. */
#define GZIP_MAX_RATIO 1032
/* Trailing bytes are counted (inflated) up to this many, then reported as "at least". */
#define IDX_MAX_TRAILING_COUNT ((uint64_t)1 << 16)

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
    /* checked before multiplying: 2^40 * 2^32 would wrap a uint64 */
    if (!too_big) {
      if (d > IDX_MAX_ELEMS / numel)
        too_big = true;
      else
        numel *= d;
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
  if (h->data_bytes > IDX_MAX_DATA_BYTES)
    return gb_errorf(S, GB_EIO,
                     "read_idx: %s: the header declares %llu data bytes, over the limit of %llu "
                     "(1 GiB)",
                     name, (unsigned long long)h->data_bytes,
                     (unsigned long long)IDX_MAX_DATA_BYTES);
  return GB_OK;
}

static gb_status check_dtype(gb_state *S, const char *name, const idx_header *h, gb_dtype dt) {
  if ((unsigned)dt >= GB_NDTYPE)
    return gb_errorf(S, GB_EARG, "read_idx: %s: unsupported dtype %d", name, (int)dt);
  if (!gb_dtype_is_float(dt) && (h->type == 0x0D || h->type == 0x0E))
    return gb_errorf(S, GB_EDTYPE, "read_idx: %s: %s elements cannot be read as %s", name,
                     type_name(h->type), gb_dtype_name(dt));
  return GB_OK;
}

/* Element i of big-endian data of type `type`, as double (exact for every type). */
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
      for (size_t i = 0; i < n; i++)
        ((float *)dst)[first + i] = (float)src[i];
    else if (t->dtype == GB_F64)
      for (size_t i = 0; i < n; i++)
        ((double *)dst)[first + i] = src[i];
    else if (t->dtype == GB_I32)
      for (size_t i = 0; i < n; i++)
        ((int32_t *)dst)[first + i] = src[i];
    else
      for (size_t i = 0; i < n; i++)
        ((int64_t *)dst)[first + i] = src[i];
    return;
  }
  for (size_t i = 0; i < n; i++) {
    double v = idx_get(h->type, src, i);
    if (t->dtype == GB_F32)
      ((float *)dst)[first + i] = (float)v;
    else if (t->dtype == GB_F64)
      ((double *)dst)[first + i] = v;
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

/* A file read either raw or through inflate, chosen by the gzip magic 1f 8b. Our own loop
 * (not gzread) so that bytes after the last gzip member are an error, as in a raw file. */
typedef struct idx_stream {
  int fd;
  const char *path;
  bool gzip;
  bool in_eof; /* read() returned 0 */
  bool done;   /* gzip: the last member ended exactly at end of file */
  bool cut;    /* gzip: the compressed stream ended early */
  bool failed; /* an error was recorded on S */
  bool z_live; /* z needs inflateEnd */
  size_t in_pos, in_len;
  uint64_t file_bytes; /* the file's size */
  z_stream z;
  uint8_t in[1 << 16];
} idx_stream;

static gb_status stream_fail(gb_state *S, idx_stream *s, gb_status st, const char *what,
                             const char *detail) {
  s->failed = true;
  return gb_errorf(S, st, "read_idx: %s: %s%s", s->path, what, detail);
}

/* Make at least `want` (<= sizeof s->in) unread bytes available in s->in unless the file
 * ends first; returns how many are available. Read errors set s->failed. */
static size_t stream_avail(gb_state *S, idx_stream *s, size_t want) {
  if (s->in_len - s->in_pos >= want || s->in_eof) return s->in_len - s->in_pos;
  memmove(s->in, s->in + s->in_pos, s->in_len - s->in_pos);
  s->in_len -= s->in_pos, s->in_pos = 0;
  while (s->in_len < want && !s->in_eof) {
    ssize_t r = read(s->fd, s->in + s->in_len, sizeof s->in - s->in_len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      stream_fail(S, s, GB_EIO, "cannot read: ", strerror(errno));
      break;
    }
    if (r == 0) s->in_eof = true;
    s->in_len += (size_t)r;
  }
  return s->in_len - s->in_pos;
}

/* After a gzip member ends: another member may follow; anything else is trailing garbage. */
static void stream_next_member(gb_state *S, idx_stream *s) {
  size_t have = stream_avail(S, s, 2);
  if (s->failed) return;
  if (have == 0)
    s->done = true;
  else if (have >= 2 && s->in[s->in_pos] == 0x1f && s->in[s->in_pos + 1] == 0x8b)
    inflateReset(&s->z);
  else
    stream_fail(S, s, GB_EIO, "trailing garbage after the gzip stream", "");
}

/* Read up to n bytes (decompressed if gzip); returns the count, short only at end of data or
 * on error (s->failed, message on S) or a cut gzip stream (s->cut). */
static size_t stream_read(gb_state *S, idx_stream *s, void *buf, size_t n) {
  size_t got = 0;
  while (got < n && !s->failed && !s->done && !s->cut) {
    if (!s->gzip) {
      if (stream_avail(S, s, 1) == 0) break;
      size_t k = s->in_len - s->in_pos < n - got ? s->in_len - s->in_pos : n - got;
      memcpy((uint8_t *)buf + got, s->in + s->in_pos, k);
      s->in_pos += k, got += k;
      continue;
    }
    if (stream_avail(S, s, 1) == 0) {
      if (!s->failed) s->cut = true; /* end of file inside a member */
      break;
    }
    size_t want = n - got > (1u << 30) ? (1u << 30) : n - got;
    s->z.next_in = s->in + s->in_pos;
    s->z.avail_in = (uInt)(s->in_len - s->in_pos);
    s->z.next_out = (Bytef *)buf + got;
    s->z.avail_out = (uInt)want;
    int ret = inflate(&s->z, Z_NO_FLUSH);
    got += want - s->z.avail_out;
    s->in_pos = s->in_len - s->z.avail_in;
    if (ret == Z_STREAM_END)
      stream_next_member(S, s);
    else if (ret == Z_MEM_ERROR)
      stream_fail(S, s, GB_EOOM, "out of memory in inflate", "");
    else if (ret == Z_NEED_DICT)
      stream_fail(S, s, GB_EIO, "gzip: needs a preset dictionary", "");
    else if (ret != Z_OK && ret != Z_BUF_ERROR)
      stream_fail(S, s, GB_EIO, "gzip: ", s->z.msg ? s->z.msg : "corrupt data");
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
    have += stream_read(S, s, buf + have, cap - have);
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
  /* Count what follows the data (zero if the file ends where it should). */
  uint64_t trailing = 0;
  uint8_t scratch[4096];
  while (!s->failed && trailing < IDX_MAX_TRAILING_COUNT) {
    size_t got = stream_read(S, s, scratch, sizeof scratch);
    if (got == 0) break;
    trailing += got;
  }
  gb_status st = s->failed ? GB_EIO : GB_OK;
  if (st == GB_OK && s->cut)
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

/* Open path and decide raw or gzip from its first two bytes. */
static gb_status stream_open(gb_state *S, const char *path, idx_stream *s) {
  memset(s, 0, offsetof(idx_stream, in));
  s->path = path;
  int64_t size;
  gb_status st = gb_file_open_read(S, "read_idx", path, &s->fd, &size);
  if (st != GB_OK) return st;
  s->file_bytes = (uint64_t)size;
  if (stream_avail(S, s, 2), s->failed) return GB_EIO;
  s->gzip = s->in_len >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b;
  if (s->gzip) {
    if (inflateInit2(&s->z, 15 + 16) != Z_OK)
      return gb_errorf(S, GB_EOOM, "read_idx: %s: out of memory for inflate", path);
    s->z_live = true;
  }
  return GB_OK;
}

static void stream_close(idx_stream *s) {
  if (s->z_live) inflateEnd(&s->z);
  if (s->fd >= 0) close(s->fd);
}

gb_status gb_idx_read(gb_state *S, const char *path, gb_dtype dt, gb_tensor **out) {
  idx_stream *s = malloc(sizeof *s);
  if (!s) return gb_errorf(S, GB_EOOM, "read_idx: %s: out of memory", path);
  gb_status st = stream_open(S, path, s);
  uint8_t hdr[4 + 4 * GB_MAXDIM];
  size_t len = 0;
  if (st == GB_OK) {
    len = stream_read(S, s, hdr, 4);
    if (!s->failed && len == 4 && hdr[0] == 0 && hdr[1] == 0 && hdr[3] <= GB_MAXDIM)
      len += stream_read(S, s, hdr + 4, 4 * (size_t)hdr[3]);
    st = s->failed ? GB_EIO : GB_OK;
  }
  idx_header h;
  uint8_t *data = NULL;
  if (st == GB_OK) st = idx_parse_header(S, path, hdr, len, &h);
  if (st == GB_OK && s->gzip && h.hdr_bytes + h.data_bytes > GZIP_MAX_RATIO * s->file_bytes)
    st = gb_errorf(S, GB_EIO,
                   "read_idx: %s: the header declares %llu data bytes, more than a %llu-byte gzip "
                   "file can hold",
                   path, (unsigned long long)h.data_bytes, (unsigned long long)s->file_bytes);
  if (st == GB_OK) st = read_data(S, s, &h, &data);
  if (st == GB_OK) st = check_dtype(S, path, &h, dt);
  gb_tensor *t = NULL;
  if (st == GB_OK) st = gb_tensor_empty(S, h.ndim, h.shape, dt, GB_CPU, &t);
  if (st == GB_OK) idx_convert(&h, data, (size_t)(h.data_bytes / (uint64_t)h.elsize), t, 0);
  free(data);
  stream_close(s);
  free(s);
  if (st == GB_OK) *out = t;
  return st;
}
