/* gb_dnnl.h — oneDNN (Debian's libdnnl, PyTorch's CPU convolution) behind the conv2d rows
 * (gb_cpu_conv2d.c): opened with dlopen on the first convolution that asks, by the SONAME
 * cmake/dnnl.cmake found, never linked. Without it (not installed, not configured, or
 * switched off) every call answers false and the rows run their own kernels. */
#ifndef GB_DNNL_H
#define GB_DNNL_H

#include <stdbool.h>
#include <stdint.h>

/* One convolution over plain NCHW / OIHW float32 memory: x (n,c,h,w), w (o,c/groups,kh,kw),
 * y (n,o,oh,ow); stride, zero padding, dilation (1 = none), groups (1 = none), as PyTorch's
 * conv2d. */
typedef struct gb_dnnl_conv {
  int64_t n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups;
} gb_dnnl_conv;

typedef enum gb_dnnl_pass {
  GB_DNNL_FORWARD,         /* y = conv(x, w) + b */
  GB_DNNL_BACKWARD_DATA,   /* gx = conv^T(gy, w), overwritten */
  GB_DNNL_BACKWARD_WEIGHTS /* gw = sum over the batch of gy (x) x, overwritten */
} gb_dnnl_pass;

/* Which passes go to oneDNN: GB_DNNL_AUTO (where it measured faster: docs/benchmarks.md),
 * GB_DNNL_OFF (never: our kernels), GB_DNNL_ALWAYS (every pass it accepts; for tests). */
typedef enum gb_dnnl_mode { GB_DNNL_AUTO, GB_DNNL_OFF, GB_DNNL_ALWAYS } gb_dnnl_mode;

/* Sets the process-wide mode and returns the previous one. */
gb_dnnl_mode gb_dnnl_set_mode(gb_dnnl_mode mode);

/* Whether pass p of g goes to oneDNN under the current mode; opens the library on the first
 * call that would use it. */
bool gb_dnnl_wants(gb_dnnl_pass p, const gb_dnnl_conv *g);

/* Runs pass p with `threads` threads. FORWARD: a = x, b = w, bias (o values, read; NULL:
 * none), out = y. BACKWARD_DATA: a = gy, b = w, out = gx. BACKWARD_WEIGHTS: a = gy, b = x,
 * out = gw and, unless NULL, bias = the bias gradient (o values, written). false (the
 * outputs then hold nothing reliable) when oneDNN is missing or refuses the shape: the
 * caller runs its own kernel. */
bool gb_dnnl_conv2d(gb_dnnl_pass p, const gb_dnnl_conv *g, const float *a, const float *b,
                    float *bias, float *out, int threads);

/* "oneDNN 2.6.3 (libdnnl.so.2)", "oneDNN: not opened yet (libdnnl.so.2)", or why it is
 * unavailable. */
const char *gb_dnnl_name(void);

#endif
