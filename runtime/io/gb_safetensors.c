/* gb_safetensors.c — safetensors load/save (see gb_safetensors.h). The JSON header is
 * parsed and emitted with jansson. One validator (st_parse_header) serves the in-memory
 * parser (fuzzed) and the file loader, so both accept and reject exactly the same files. */
#define _POSIX_C_SOURCE 200809L

#include "gb_safetensors.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gb_checked.h"
#include "gb_fileutil.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gb_safetensors.c copies tensor bytes verbatim and assumes a little-endian host"
#endif

/* Same cap as the reference implementation: a larger header is a corrupt file. */
#define ST_MAX_HEADER ((uint64_t)100000000)

typedef struct st_info {
  char *name;
  gb_dtype dt;
  int ndim;
  int64_t shape[GB_MAXDIM];
  uint64_t begin, end;
} st_info;

typedef struct st_header {
  st_info *info;
  int n;
  gb_safetensors_meta *meta;
  int nmeta;
} st_header;

static const char *st_dtype_name(gb_dtype dt) {
  return dt == GB_F32 ? "F32" : dt == GB_F64 ? "F64" : dt == GB_I32 ? "I32" : "I64";
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

static void st_header_free(st_header *h) {
  for (int i = 0; i < h->n; i++)
    free(h->info[i].name);
  for (int i = 0; i < h->nmeta; i++) {
    free((void *)h->meta[i].key);
    free((void *)h->meta[i].value);
  }
  free(h->info);
  free(h->meta);
  memset(h, 0, sizeof *h);
}

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

/* Check the 8-byte length prefix against the file size; on success *hlen is N. */
static gb_status st_check_prefix(gb_state *S, const char *name, const uint8_t *prefix,
                                 uint64_t file_size, uint64_t *hlen) {
  if (file_size < 8)
    return gb_errorf(S, GB_EIO,
                     "load: %s: truncated: file is %llu bytes, too short for the 8-byte "
                     "header length",
                     name, (unsigned long long)file_size);
  uint64_t n = le64(prefix);
  if (n > ST_MAX_HEADER)
    return gb_errorf(S, GB_EIO,
                     "load: %s: header length %llu is over the %llu-byte limit (not a "
                     "safetensors file?)",
                     name, (unsigned long long)n, (unsigned long long)ST_MAX_HEADER);
  if (n > file_size - 8)
    return gb_errorf(S, GB_EIO,
                     "load: %s: truncated: header length %llu but only %llu bytes follow it", name,
                     (unsigned long long)n, (unsigned long long)(file_size - 8));
  if (n < 2)
    return gb_errorf(S, GB_EIO, "load: %s: header length %llu is too short for a JSON object", name,
                     (unsigned long long)n);
  *hlen = n;
  return GB_OK;
}

/* Non-negative JSON integer, or -1. */
static int64_t json_uint(const json_t *v) {
  if (!json_is_integer(v)) return -1;
  json_int_t x = json_integer_value(v);
  return x < 0 ? -1 : (int64_t)x;
}

static gb_status st_parse_entry(gb_state *S, const char *name, const char *key, json_t *v,
                                uint64_t buflen, st_info *info) {
  if (!json_is_object(v))
    return gb_errorf(S, GB_EIO, "load: %s: tensor '%s': entry is not a JSON object", name, key);
  const char *dts = json_string_value(json_object_get(v, "dtype"));
  if (!dts)
    return gb_errorf(S, GB_EIO, "load: %s: tensor '%s': missing or non-string \"dtype\"", name,
                     key);
  if (strcmp(dts, "F32") == 0)
    info->dt = GB_F32;
  else if (strcmp(dts, "F64") == 0)
    info->dt = GB_F64;
  else if (strcmp(dts, "I32") == 0)
    info->dt = GB_I32;
  else if (strcmp(dts, "I64") == 0)
    info->dt = GB_I64;
  else
    return gb_errorf(S, GB_EIO,
                     "load: %s: tensor '%s': dtype \"%.32s\" not supported (F32, "
                     "F64, I32, I64)",
                     name, key, dts);
  json_t *shape = json_object_get(v, "shape");
  if (!json_is_array(shape) || json_array_size(shape) > GB_MAXDIM)
    return gb_errorf(S, GB_EIO,
                     "load: %s: tensor '%s': \"shape\" must be an array of at most %d "
                     "non-negative integers",
                     name, key, GB_MAXDIM);
  info->ndim = (int)json_array_size(shape);
  uint64_t numel = 1;
  bool overflow = false;
  for (int i = 0; i < info->ndim; i++) {
    int64_t d = json_uint(json_array_get(shape, (size_t)i));
    if (d < 0)
      return gb_errorf(S, GB_EIO,
                       "load: %s: tensor '%s': \"shape\" must be an array of at most %d "
                       "non-negative integers",
                       name, key, GB_MAXDIM);
    info->shape[i] = d;
    /* zero sizes count as 1 here, so an empty tensor's strides stay representable too */
    if (d != 0 && (numel > (uint64_t)GB_MAX_NUMEL / (uint64_t)d))
      overflow = true;
    else if (d != 0)
      numel *= (uint64_t)d;
  }
  json_t *offs = json_object_get(v, "data_offsets");
  int64_t b = json_array_size(offs) == 2 ? json_uint(json_array_get(offs, 0)) : -1;
  int64_t e = json_array_size(offs) == 2 ? json_uint(json_array_get(offs, 1)) : -1;
  if (!json_is_array(offs) || b < 0 || e < 0 || b > e)
    return gb_errorf(S, GB_EIO,
                     "load: %s: tensor '%s': \"data_offsets\" must be [begin, end] with "
                     "0 <= begin <= end",
                     name, key);
  info->begin = (uint64_t)b, info->end = (uint64_t)e;
  for (int i = 0; i < info->ndim; i++)
    if (info->shape[i] == 0) numel = 0;
  size_t es = gb_dtype_size(info->dt);
  char sb[GB_MAXDIM * 21 + 3];
  if (overflow || numel > UINT64_MAX / es)
    return gb_errorf(S, GB_EIO,
                     "load: %s: tensor '%s': shape %s is too large (more than " GB_MAX_NUMEL_STR
                     " elements, counting sizes 0 as 1)",
                     name, key, gb_shape_str_n(info->ndim, info->shape, sb));
  if (numel * es != info->end - info->begin)
    return gb_errorf(S, GB_EIO,
                     "load: %s: tensor '%s': shape %s of %s needs %llu bytes but "
                     "data_offsets [%llu, %llu] span %llu",
                     name, key, gb_shape_str_n(info->ndim, info->shape, sb), dts,
                     (unsigned long long)(numel * es), (unsigned long long)b, (unsigned long long)e,
                     (unsigned long long)(e - b));
  if (info->end > buflen)
    return gb_errorf(S, GB_EIO,
                     "load: %s: tensor '%s': data_offsets [%llu, %llu] are beyond the "
                     "%llu-byte data buffer (truncated file?)",
                     name, key, (unsigned long long)b, (unsigned long long)e,
                     (unsigned long long)buflen);
  return GB_OK;
}

static gb_status st_parse_meta(gb_state *S, const char *name, json_t *v, st_header *h) {
  if (!json_is_object(v))
    return gb_errorf(S, GB_EIO, "load: %s: \"__metadata__\" is not a JSON object", name);
  size_t n = json_object_size(v);
  h->meta = calloc(n ? n : 1, sizeof *h->meta);
  if (!h->meta) return gb_errorf(S, GB_EOOM, "load: %s: out of memory", name);
  const char *k;
  json_t *val;
  json_object_foreach(v, k, val) {
    if (!json_is_string(val))
      return gb_errorf(S, GB_EIO, "load: %s: \"__metadata__\" value for '%s' is not a string", name,
                       k);
    h->meta[h->nmeta].key = dup_str(k);
    h->meta[h->nmeta].value = dup_str(json_string_value(val));
    h->nmeta++;
    if (!h->meta[h->nmeta - 1].key || !h->meta[h->nmeta - 1].value)
      return gb_errorf(S, GB_EOOM, "load: %s: out of memory", name);
  }
  return GB_OK;
}

static int cmp_offsets(const void *a, const void *b) {
  const st_info *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

/* Tensors must tile the data buffer exactly: sorted by offset, each begins where the
 * previous one ended, the last ends at the buffer's end (as the reference reader demands). */
static gb_status st_check_layout(gb_state *S, const char *name, st_header *h, uint64_t buflen) {
  qsort(h->info, (size_t)h->n, sizeof *h->info, cmp_offsets);
  uint64_t at = 0;
  for (int i = 0; i < h->n; i++) {
    if (h->info[i].begin != at)
      return gb_errorf(S, GB_EIO,
                       "load: %s: tensor '%s': data_offsets [%llu, %llu] %s (expected it to "
                       "begin at %llu)",
                       name, h->info[i].name, (unsigned long long)h->info[i].begin,
                       (unsigned long long)h->info[i].end,
                       h->info[i].begin < at ? "overlap another tensor" : "leave a gap",
                       (unsigned long long)at);
    at = h->info[i].end;
  }
  if (at != buflen)
    return gb_errorf(S, GB_EIO,
                     "load: %s: trailing garbage: %llu bytes after the last tensor's data", name,
                     (unsigned long long)(buflen - at));
  return GB_OK;
}

/* Validate the JSON header json[0..jlen) against a data buffer of buflen bytes. On success
 * h->info is sorted by offset; on failure h is freed. */
static gb_status st_parse_header(gb_state *S, const char *name, const char *json, size_t jlen,
                                 uint64_t buflen, st_header *h) {
  memset(h, 0, sizeof *h);
  if (json[0] != '{')
    return gb_errorf(S, GB_EIO,
                     "load: %s: header does not start with '{' (not a safetensors "
                     "file?)",
                     name);
  json_error_t jerr;
  json_t *root = json_loadb(json, jlen, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return gb_errorf(S, GB_EIO, "load: %s: header is not valid JSON: %s (line %d, column %d)", name,
                     jerr.text, jerr.line, jerr.column);
  gb_status st = GB_OK;
  size_t n = json_object_size(root);
  h->info = calloc(n ? n : 1, sizeof *h->info);
  if (!h->info) st = gb_errorf(S, GB_EOOM, "load: %s: out of memory", name);
  const char *key;
  json_t *v;
  json_object_foreach(root, key, v) {
    if (st != GB_OK) break;
    if (strcmp(key, "__metadata__") == 0) {
      if (h->meta)
        st = gb_errorf(S, GB_EIO, "load: %s: duplicate \"__metadata__\"", name);
      else
        st = st_parse_meta(S, name, v, h);
      continue;
    }
    st_info *info = &h->info[h->n];
    st = st_parse_entry(S, name, key, v, buflen, info);
    if (st != GB_OK) break;
    if (!(info->name = dup_str(key)))
      st = gb_errorf(S, GB_EOOM, "load: %s: out of memory", name);
    else
      h->n++;
  }
  json_decref(root);
  if (st == GB_OK) st = st_check_layout(S, name, h, buflen);
  if (st != GB_OK) st_header_free(h);
  return st;
}

static int cmp_entries(const void *a, const void *b) {
  return strcmp(((const gb_safetensors_entry *)a)->name, ((const gb_safetensors_entry *)b)->name);
}

/* Turn a validated header into an empty result whose tensors are allocated in offset order
 * (entries[i] matches h->info[i]); names move from h to out. */
static gb_status st_alloc_result(gb_state *S, st_header *h, gb_safetensors *out) {
  memset(out, 0, sizeof *out);
  out->entries = calloc(h->n ? (size_t)h->n : 1, sizeof *out->entries);
  if (!out->entries) return gb_errorf(S, GB_EOOM, "load: out of memory");
  for (int i = 0; i < h->n; i++) {
    gb_status st = gb_tensor_empty(S, h->info[i].ndim, h->info[i].shape, h->info[i].dt, GB_CPU,
                                   &out->entries[i].tensor);
    if (st != GB_OK) return st;
    out->entries[i].name = h->info[i].name;
    h->info[i].name = NULL;
    out->n++;
  }
  out->meta = h->meta, out->nmeta = h->nmeta;
  h->meta = NULL, h->nmeta = 0;
  return GB_OK;
}

void gb_safetensors_free(gb_state *S, gb_safetensors *f) {
  if (!f) return;
  for (int i = 0; i < f->n; i++) {
    free((void *)f->entries[i].name);
    gb_tensor_release(S, f->entries[i].tensor);
  }
  for (int i = 0; i < f->nmeta; i++) {
    free((void *)f->meta[i].key);
    free((void *)f->meta[i].value);
  }
  free(f->entries);
  free(f->meta);
  memset(f, 0, sizeof *f);
}

gb_status gb_safetensors_parse(gb_state *S, const char *name, const void *bytes, size_t len,
                               gb_safetensors *out) {
  const uint8_t *p = bytes;
  uint64_t hlen = 0;
  st_header h;
  memset(out, 0, sizeof *out);
  gb_status st = st_check_prefix(S, name, p, len, &hlen);
  if (st == GB_OK) st = st_parse_header(S, name, (const char *)p + 8, hlen, len - 8 - hlen, &h);
  if (st != GB_OK) return st;
  st = st_alloc_result(S, &h, out);
  if (st == GB_OK) {
    const uint8_t *data = p + 8 + hlen;
    for (int i = 0; i < out->n; i++)
      memcpy(gb_tensor_data(out->entries[i].tensor), data + h.info[i].begin,
             h.info[i].end - h.info[i].begin);
    qsort(out->entries, (size_t)out->n, sizeof *out->entries, cmp_entries);
  } else {
    gb_safetensors_free(S, out);
  }
  st_header_free(&h);
  return st;
}

static gb_status st_read(gb_state *S, FILE *fp, const char *path, void *buf, size_t n,
                         const char *what) {
  if (n == 0 || fread(buf, 1, n, fp) == n) return GB_OK;
  if (ferror(fp))
    return gb_errorf(S, GB_EIO, "load: %s: read error in %s: %s", path, what, strerror(errno));
  return gb_errorf(S, GB_EIO, "load: %s: truncated while reading %s (file changed?)", path, what);
}

gb_status gb_safetensors_load(gb_state *S, const char *path, gb_safetensors *out) {
  memset(out, 0, sizeof *out);
  int fd;
  int64_t fsize;
  gb_status st = gb_file_open_read(S, "load", path, &fd, &fsize);
  if (st != GB_OK) return st;
  FILE *fp = fdopen(fd, "rb");
  if (!fp) {
    close(fd);
    return gb_errorf(S, GB_EOOM, "load: %s: out of memory", path);
  }
  uint8_t prefix[8] = {0};
  uint64_t hlen = 0, size = (uint64_t)fsize;
  if (st == GB_OK) st = st_read(S, fp, path, prefix, size < 8 ? (size_t)size : 8, "the header");
  if (st == GB_OK) st = st_check_prefix(S, path, prefix, size, &hlen);
  char *json = NULL;
  if (st == GB_OK && !(json = malloc((size_t)hlen)))
    st = gb_errorf(S, GB_EOOM, "load: %s: out of memory for a %llu-byte header", path,
                   (unsigned long long)hlen);
  if (st == GB_OK) st = st_read(S, fp, path, json, (size_t)hlen, "the header");
  st_header h;
  if (st == GB_OK) {
    st = st_parse_header(S, path, json, (size_t)hlen, size - 8 - hlen, &h);
    if (st == GB_OK) {
      st = st_alloc_result(S, &h, out);
      for (int i = 0; st == GB_OK && i < out->n; i++) {
        char what[64 + 256];
        snprintf(what, sizeof what, "tensor '%.256s'", out->entries[i].name);
        st = st_read(S, fp, path, gb_tensor_data(out->entries[i].tensor),
                     (size_t)(h.info[i].end - h.info[i].begin), what);
      }
      st_header_free(&h);
      if (st == GB_OK)
        qsort(out->entries, (size_t)out->n, sizeof *out->entries, cmp_entries);
      else
        gb_safetensors_free(S, out);
    }
  }
  free(json);
  fclose(fp);
  return st;
}

/* ---- writer -------------------------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b) {
  return strcmp((*(const gb_safetensors_entry *const *)a)->name,
                (*(const gb_safetensors_entry *const *)b)->name);
}

static gb_status st_check_save(gb_state *S, const char *path, const gb_safetensors *f,
                               const gb_safetensors_entry **order) {
  for (int i = 0; i < f->n; i++) {
    const gb_safetensors_entry *e = &f->entries[i];
    if (!e->name || !e->tensor)
      return gb_errorf(S, GB_EARG, "save: %s: entry %d has no name or no tensor", path, i + 1);
    if (strcmp(e->name, "__metadata__") == 0)
      return gb_errorf(S, GB_EARG, "save: %s: \"__metadata__\" is reserved, not a tensor name",
                       path);
    if (e->tensor->device != GB_CPU) {
      char dev[GB_DEVICE_STRLEN];
      return gb_errorf(S, GB_EDEVICE,
                       "save: %s: tensor '%s' is on %s; copy it to the CPU "
                       "first",
                       path, e->name, gb_device_name(e->tensor->device, dev));
    }
    if ((unsigned)e->tensor->dtype >= GB_NDTYPE)
      return gb_errorf(S, GB_EDTYPE, "save: %s: tensor '%s': dtype %s not supported", path, e->name,
                       gb_dtype_name(e->tensor->dtype));
    order[i] = e;
  }
  qsort(order, (size_t)f->n, sizeof *order, cmp_names);
  for (int i = 1; i < f->n; i++)
    if (strcmp(order[i - 1]->name, order[i]->name) == 0)
      return gb_errorf(S, GB_EARG, "save: %s: duplicate tensor name '%s'", path, order[i]->name);
  return GB_OK;
}

/* The padded JSON header for tensors in `order`; *len gets its length (a multiple of 8). */
static gb_status st_build_header(gb_state *S, const char *path, const gb_safetensors *f,
                                 const gb_safetensors_entry **order, char **out, size_t *len) {
  json_t *root = json_object();
  gb_status st = root ? GB_OK : gb_errorf(S, GB_EOOM, "save: %s: out of memory", path);
  if (st == GB_OK && f->nmeta > 0) {
    json_t *meta = json_object();
    if (!meta || json_object_set_new(root, "__metadata__", meta) != 0)
      st = gb_errorf(S, GB_EOOM, "save: %s: out of memory", path);
    for (int i = 0; st == GB_OK && i < f->nmeta; i++) {
      const gb_safetensors_meta *m = &f->meta[i];
      json_t *v = m->key && m->value ? json_string(m->value) : NULL;
      if (!v || json_object_set_new(meta, m->key, v) != 0)
        st = gb_errorf(S, GB_EARG,
                       "save: %s: metadata entry '%s' is not a valid UTF-8 string "
                       "pair",
                       path, m->key ? m->key : "(null)");
    }
  }
  uint64_t at = 0;
  for (int i = 0; st == GB_OK && i < f->n; i++) {
    const gb_tensor *t = order[i]->tensor;
    uint64_t nbytes = (uint64_t)t->numel * gb_dtype_size(t->dtype);
    json_t *shape = json_array();
    for (int d = 0; shape && d < t->ndim; d++)
      json_array_append_new(shape, json_integer(t->shape[d]));
    json_t *e = json_pack("{s:s, s:o, s:[I, I]}", "dtype", st_dtype_name(t->dtype), "shape", shape,
                          "data_offsets", (json_int_t)at, (json_int_t)(at + nbytes));
    if (!e)
      st = gb_errorf(S, GB_EOOM, "save: %s: out of memory", path);
    else if (json_object_set_new(root, order[i]->name, e) != 0)
      st = gb_errorf(S, GB_EARG, "save: %s: tensor name '%s' is not valid UTF-8", path,
                     order[i]->name);
    at += nbytes;
  }
  char *s = st == GB_OK ? json_dumps(root, JSON_COMPACT) : NULL;
  json_decref(root);
  if (st == GB_OK && !s) st = gb_errorf(S, GB_EOOM, "save: %s: out of memory", path);
  if (st != GB_OK) return st;
  size_t n = strlen(s), padded = (n + 7) & ~(size_t)7;
  char *buf = malloc(padded);
  if (!buf) {
    free(s);
    return gb_errorf(S, GB_EOOM, "save: %s: out of memory", path);
  }
  memcpy(buf, s, n);
  memset(buf + n, ' ', padded - n);
  free(s);
  *out = buf, *len = padded;
  return GB_OK;
}

/* Write t's elements in row-major order, gathering through its strides when needed. */
static bool st_write_tensor(FILE *fp, const gb_tensor *t) {
  size_t es = gb_dtype_size(t->dtype);
  if (t->numel == 0) return true;
  if (gb_tensor_is_contiguous(t))
    return fwrite(gb_tensor_data(t), es, (size_t)t->numel, fp) == (size_t)t->numel;
  char buf[1 << 16];
  size_t fill = 0;
  int64_t idx[GB_MAXDIM] = {0}, off = 0;
  const char *base = gb_tensor_data(t);
  for (int64_t k = 0; k < t->numel; k++) {
    memcpy(buf + fill, base + off * (int64_t)es, es);
    fill += es;
    if (fill == sizeof buf) {
      if (fwrite(buf, 1, fill, fp) != fill) return false;
      fill = 0;
    }
    for (int d = t->ndim - 1; d >= 0; d--) { /* odometer step over the view */
      if (++idx[d] < t->shape[d]) {
        off += t->stride[d];
        break;
      }
      off -= t->stride[d] * (idx[d] - 1);
      idx[d] = 0;
    }
  }
  return fwrite(buf, 1, fill, fp) == fill;
}

gb_status gb_safetensors_save(gb_state *S, const char *path, const gb_safetensors *f) {
  const gb_safetensors_entry **order = malloc((f->n ? (size_t)f->n : 1) * sizeof *order);
  if (!order) return gb_errorf(S, GB_EOOM, "save: %s: out of memory", path);
  char *hdr = NULL;
  size_t hlen = 0;
  gb_status st = st_check_save(S, path, f, order);
  if (st == GB_OK) st = st_build_header(S, path, f, order, &hdr, &hlen);
  gb_atomic_file af;
  if (st == GB_OK) st = gb_atomic_file_open(S, "save", path, &af);
  if (st == GB_OK) {
    uint8_t prefix[8];
    for (int i = 0; i < 8; i++)
      prefix[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    bool ok = fwrite(prefix, 1, 8, af.fp) == 8 && fwrite(hdr, 1, hlen, af.fp) == hlen;
    for (int i = 0; ok && i < f->n; i++)
      ok = st_write_tensor(af.fp, order[i]->tensor);
    if (!ok) {
      st = gb_atomic_file_write_error(S, &af, errno);
      gb_atomic_file_abort(&af);
    } else {
      st = gb_atomic_file_commit(S, &af);
    }
  }
  free(hdr);
  free(order);
  return st;
}
