/* gb_window.c — the output size of a convolution or pooling window (gb_window.h), with every
 * sum and product checked (gb_checked.h): hostile kernels, strides, dilations and paddings
 * give an error naming the op, never a wrapped size. */
#include "gb_window.h"

#include "gb_checked.h"
#include "gb_state.h"

/* floor(n / d) for d >= 1 and any n */
static int64_t floor_div(int64_t n, int64_t d) {
  int64_t q = n / d;
  return q - (n % d != 0 && n < 0);
}

/* one side: input n, kernel k, stride s, padding p, dilation d -> *out (may be < 1), the
 * padded size *np and the dilated kernel's *span; false when n + 2p passes GB_MAX_NUMEL
 * (*np = -1) or the span or the rounding leaves int64 */
static bool side_out(int64_t n, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil, int64_t *np,
                     int64_t *span, int64_t *out) {
  int64_t num;
  if (gb_add_ovf(n, 2 * p, np) || *np > GB_MAX_NUMEL) {
    *np = -1;
    return false;
  }
  if (gb_mul_ovf(d, k - 1, span) || gb_add_ovf(*span, 1, span)) return false;
  num = *np - *span; /* both in [0, 2^63): no overflow */
  if (ceil && gb_add_ovf(num, s - 1, &num)) return false;
  *out = floor_div(num, s) + 1;
  /* PyTorch's rule: the last window must start inside the input or its left padding */
  int64_t start;
  if (ceil && *out > 1 && (gb_mul_ovf(*out - 1, s, &start) || start >= n + p)) --*out;
  return true;
}

gb_status gb_window_out(gb_state *S, const char *op, gb_window_kind kind, const gb_window *w,
                        bool ceil, int64_t h, int64_t wd, int64_t *oh, int64_t *ow) {
  bool pool = kind == GB_WINDOW_POOL;
  bool bad = w->kh < 1 || w->kw < 1 || w->sh < 1 || w->sw < 1 || w->ph < 0 || w->pw < 0;
  if (!bad && pool) bad = w->ph > w->kh / 2 || w->pw > w->kw / 2;
  if (!bad && !pool) bad = w->ph > GB_MAX_NUMEL || w->pw > GB_MAX_NUMEL;
  if (bad)
    return gb_errorf(S, GB_EARG,
                     "%s: kernel %lldx%lld, stride %lldx%lld, padding %lldx%lld: sizes and strides "
                     "must be >= 1 and padding %s",
                     op, (long long)w->kh, (long long)w->kw, (long long)w->sh, (long long)w->sw,
                     (long long)w->ph, (long long)w->pw, pool ? "at most half the kernel" : ">= 0");
  if (w->dh < 1 || w->dw < 1)
    return gb_errorf(S, GB_EARG, "%s: dilation %lldx%lld must be >= 1", op, (long long)w->dh,
                     (long long)w->dw);
  int64_t hp = 0, wp = 0, spanh = 0, spanw = 0;
  bool fits = h >= 0 && wd >= 0 && side_out(h, w->kh, w->sh, w->ph, w->dh, ceil, &hp, &spanh, oh) &&
              side_out(wd, w->kw, w->sw, w->pw, w->dw, ceil, &wp, &spanw, ow);
  if (!fits && (h < 0 || wd < 0 || hp < 0 || wp < 0))
    return gb_errorf(
        S, GB_ESHAPE,
        "%s: a %lldx%lld input padded by %lldx%lld is too large (at most " GB_MAX_NUMEL_STR
        " per side)",
        op, (long long)h, (long long)wd, (long long)w->ph, (long long)w->pw);
  if (!fits)
    return gb_errorf(S, GB_ESHAPE,
                     "%s: kernel %lldx%lld with dilation %lldx%lld and stride %lldx%lld is too "
                     "large",
                     op, (long long)w->kh, (long long)w->kw, (long long)w->dh, (long long)w->dw,
                     (long long)w->sh, (long long)w->sw);
  if (*oh >= 1 && *ow >= 1) return GB_OK;
  if (w->dh == 1 && w->dw == 1)
    return gb_errorf(S, GB_ESHAPE, "%s: kernel %lldx%lld is larger than the padded input %lldx%lld",
                     op, (long long)w->kh, (long long)w->kw, (long long)hp, (long long)wp);
  return gb_errorf(S, GB_ESHAPE,
                   "%s: kernel %lldx%lld with dilation %lldx%lld spans %lldx%lld, more than the "
                   "padded input %lldx%lld",
                   op, (long long)w->kh, (long long)w->kw, (long long)w->dh, (long long)w->dw,
                   (long long)spanh, (long long)spanw, (long long)hp, (long long)wp);
}
