/* gb_safetensors.h — checkpoints in the safetensors format: an 8-byte little-endian header
 * length N, N bytes of JSON ({"name": {"dtype", "shape", "data_offsets"}, "__metadata__":
 * {string: string}}), then the raw little-endian tensor bytes. F32, I32 and I64 tensors.
 * Loading validates everything; saving is atomic (temp file, fsync, rename). */
#ifndef GB_SAFETENSORS_H
#define GB_SAFETENSORS_H

#include "gb_tensor.h"

typedef struct gb_safetensors_entry {
  const char *name;
  gb_tensor *tensor;
} gb_safetensors_entry;

typedef struct gb_safetensors_meta {
  const char *key;
  const char *value;
} gb_safetensors_meta;

/* A set of named tensors plus string metadata. Filled by parse/load (then everything in it
 * is owned and must go back through gb_safetensors_free; entries are sorted by name), or
 * by the caller for save (then everything is borrowed). */
typedef struct gb_safetensors {
  int n;
  gb_safetensors_entry *entries;
  int nmeta;
  gb_safetensors_meta *meta;
} gb_safetensors;

/* Parse a whole safetensors file held in memory; `name` only appears in messages
 * ("load: <name>: <problem>"). On success *out owns new contiguous CPU tensors. On failure
 * *out is empty ({0}) and the status is GB_EIO (malformed: bad lengths, bad JSON, unknown
 * dtype, duplicate names, offsets out of range, overlapping or gaps, trailing bytes),
 * or GB_EOOM. */
gb_status gb_safetensors_parse(gb_state *S, const char *name, const void *bytes, size_t len,
                               gb_safetensors *out);

/* Read and parse the file at `path` with the same checks as gb_safetensors_parse; tensor
 * bytes are read straight into the tensors. Missing or unreadable files are GB_EIO naming
 * the path and strerror. */
gb_status gb_safetensors_load(gb_state *S, const char *path, gb_safetensors *out);

/* Write `f` (borrowed) to `path` atomically: tensors in name order, header padded with
 * spaces to 8-byte alignment, written to a temporary file in the same directory, flushed,
 * fsynced and renamed over `path`. Tensors must be on the CPU (GB_EDEVICE otherwise) and
 * F32/I32/I64; any strides are fine (views are gathered). Names must be unique, valid
 * UTF-8 and not "__metadata__" (GB_EARG). I/O failures are GB_EIO naming the path with
 * strerror; the target is then untouched and no temporary file remains. */
gb_status gb_safetensors_save(gb_state *S, const char *path, const gb_safetensors *f);

/* Release what parse/load produced and reset *f to empty. NULL-safe. */
void gb_safetensors_free(gb_state *S, gb_safetensors *f);

#endif
