/* gb_idx.h — reader for the IDX format of MNIST and friends: a big-endian magic
 * 0x0000<type><ndim>, ndim big-endian u32 dimensions, then the elements row-major. Files may
 * be gzip-compressed. Validation is strict: every malformed file is a GB_EIO naming it. */
#ifndef GB_IDX_H
#define GB_IDX_H

#include "gb_tensor.h"

/* Parse a whole (already decompressed) IDX image held in memory. `name` is only used in
 * messages ("read_idx: <name>: <problem>"). On success *out is a new contiguous CPU tensor
 * with the file's dims whose values are converted to `dt` (GB_F32, GB_I32 or GB_I64;
 * values are not rescaled). Element types: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32,
 * 0x0E f64 (floats only to GB_F32). Errors: GB_EIO malformed (bad magic, bad dims,
 * truncated, trailing bytes), GB_EDTYPE float data to an integer dtype, GB_EARG bad dt,
 * GB_EOOM. *out is untouched on failure. */
gb_status gb_idx_parse(gb_state *S, const char *name, const void *bytes, size_t len, gb_dtype dt,
                       gb_tensor **out);

/* Read an IDX file, gzip-compressed or raw (detected by content), with the same checks and
 * result as gb_idx_parse. Messages name `path`; a missing or unreadable file or a corrupt
 * gzip stream is GB_EIO ("read_idx: <path>: cannot open: No such file or directory"). */
gb_status gb_idx_read(gb_state *S, const char *path, gb_dtype dt, gb_tensor **out);

#endif
