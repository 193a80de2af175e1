/* gb_window.h — the sliding window of the convolution and pooling rows (gb_ops.def): where
 * their integer arguments sit, read once here by the shape rules (gb_infer.c, gb_infer_nn.c),
 * the CPU kernels and the CUDA launchers, and the output size PyTorch gives it
 * (gb_window_out, gb_window.c).
 *
 *   i0 kh, i1 kw   kernel                 i6 H, i7 W   the input's size, for rows that make it
 *   i2 sh, i3 sw   stride                 i9 dh, i10 dw   dilation (0 reads as 1)
 *   i4 ph, i5 pw   zero padding           i11 groups (conv2d rows; 0 reads as 1)
 *                                         i11 ceil_mode (pooling rows)
 *
 * Zeros read as the defaults, so a caller that predates dilation, groups and ceil_mode
 * (im2col, the tests' window cases) keeps its meaning. */
#ifndef GB_WINDOW_H
#define GB_WINDOW_H

#include "gb_op.h"

enum { GB_WIN_DH = 9, GB_WIN_DW = 10, GB_WIN_GROUPS = 11, GB_WIN_CEIL = 11 };

typedef struct gb_window {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
} gb_window;

static inline int64_t gb_window_one(int64_t v) {
  return v == 0 ? 1 : v;
}

/* The window of a row's arguments (dilation 0 read as 1; not validated: gb_window_out does). */
static inline gb_window gb_window_of(const gb_opargs *a) {
  gb_window w = {a->i[0],
                 a->i[1],
                 a->i[2],
                 a->i[3],
                 a->i[4],
                 a->i[5],
                 gb_window_one(a->i[GB_WIN_DH]),
                 gb_window_one(a->i[GB_WIN_DW])};
  return w;
}

/* A conv2d row's groups (0 read as 1). */
static inline int64_t gb_window_groups(const gb_opargs *a) {
  return gb_window_one(a->i[GB_WIN_GROUPS]);
}

/* What kind of window a shape rule checks: a convolution takes any padding >= 0; pooling
 * (PyTorch's rule) at most half the kernel, and may round the output up (ceil_mode). */
typedef enum gb_window_kind { GB_WINDOW_CONV, GB_WINDOW_POOL } gb_window_kind;

/* Output size (*oh, *ow) of window w over an h x w input, as PyTorch computes it:
 * (h + 2 ph - dh (kh - 1) - 1) / sh + 1, rounded down, or up with `ceil` (then the last window
 * must start inside the input or its top/left padding). GB_EARG for a kernel or stride < 1,
 * a dilation < 1, padding < 0 (pooling: more than half the kernel); GB_ESHAPE when the
 * dilated kernel does not fit the padded input or the sizes are past GB_MAX_NUMEL. All
 * arithmetic is checked. Errors name `op`. */
gb_status gb_window_out(gb_state *S, const char *op, gb_window_kind kind, const gb_window *w,
                        bool ceil, int64_t h, int64_t wd, int64_t *oh, int64_t *ow);

#endif
