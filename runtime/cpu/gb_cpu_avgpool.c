/* gb_cpu_avgpool.c — average pooling on (N,C,H,W): fixed windows (avg_pool2d, PyTorch's
 * AvgPool2d: count_include_pad i6, divisor_override i7, ceil_mode i11, whose overhanging last
 * windows count only what lies inside the padded input) and adaptive ones (adaptive_avg_pool2d:
 * output cell o of n covers [floor(o*H/n), ceil((o+1)*H/n))), each with its backward, which spreads
 * a cell's gradient evenly over the cell's window. */
#include <string.h>

#include "gb_cpu.h"

/* one output cell's window in one plane: rows [y0,y1), columns [x0,x1), divisor */
typedef struct cell {
  int64_t y0, y1, x0, x1;
  double div;
} cell;

static int64_t lo_clip(int64_t v) {
  return v < 0 ? 0 : v;
}
static int64_t hi_clip(int64_t v, int64_t n) {
  return v > n ? n : v;
}

/* window of output (oy, ox) for row id over an h x w plane */
static cell cell_of(gb_opid id, const gb_opargs *a, int64_t h, int64_t w, int64_t oh, int64_t ow,
                    int64_t oy, int64_t ox) {
  cell c;
  if (id == GB_OP_AVG_POOL2D) {
    int64_t y0 = oy * a->i[2] - a->i[4], x0 = ox * a->i[3] - a->i[5];
    int64_t y1 = y0 + a->i[0], x1 = x0 + a->i[1];
    /* count_include_pad: the window as far as it lies in the padded image */
    int64_t py1 = hi_clip(y1, h + a->i[4]), px1 = hi_clip(x1, w + a->i[5]);
    c.y0 = lo_clip(y0), c.x0 = lo_clip(x0), c.y1 = hi_clip(y1, h), c.x1 = hi_clip(x1, w);
    c.div = a->i[7]   ? (double)a->i[7]                         /* divisor_override */
            : a->i[6] ? (double)(py1 - y0) * (double)(px1 - x0) /* each <= 2^36: not in int64 */
                      : (double)((c.y1 - c.y0) * (c.x1 - c.x0));
  } else {
    c.y0 = oy * h / oh, c.y1 = ((oy + 1) * h + oh - 1) / oh;
    c.x0 = ox * w / ow, c.x1 = ((ox + 1) * w + ow - 1) / ow;
    c.div = (double)((c.y1 - c.y0) * (c.x1 - c.x0));
  }
  return c;
}

static gb_status pool_forward(gb_state *S, gb_opid id, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *xc;
  gb_status st = gb_tensor_contiguous(S, a->in[0], &xc);
  if (st) return st;
  int64_t np = xc->shape[0] * xc->shape[1], h = xc->shape[2], w = xc->shape[3];
  int64_t oh = out[0]->shape[2], ow = out[0]->shape[3];
  const float *x = gb_tensor_f32(xc);
  float *y = gb_tensor_f32(out[0]);
  for (int64_t p = 0; p < np && !gb_should_stop(S); p++) { /* stops: output discarded */
    const float *plane = x + p * h * w;
    for (int64_t oy = 0; oy < oh; oy++)
      for (int64_t ox = 0; ox < ow; ox++) {
        cell c = cell_of(id, a, h, w, oh, ow, oy, ox);
        double s = 0;
        for (int64_t iy = c.y0; iy < c.y1; iy++)
          for (int64_t ix = c.x0; ix < c.x1; ix++)
            s += plane[iy * w + ix];
        *y++ = (float)(c.div > 0 ? s / c.div : 0.0);
      }
  }
  gb_tensor_release(S, xc);
  return GB_OK;
}

/* (gout, x) -> gin shaped like x */
static gb_status pool_backward(gb_state *S, gb_opid id, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *gc;
  gb_status st = gb_tensor_contiguous(S, a->in[0], &gc);
  if (st) return st;
  const gb_tensor *x = a->in[1];
  int64_t np = x->shape[0] * x->shape[1], h = x->shape[2], w = x->shape[3];
  int64_t oh = gc->shape[2], ow = gc->shape[3];
  const float *g = gb_tensor_f32(gc);
  float *gin = gb_tensor_f32(out[0]);
  memset(gin, 0, (size_t)out[0]->numel * sizeof(float));
  for (int64_t p = 0; p < np && !gb_should_stop(S); p++) {
    float *plane = gin + p * h * w;
    for (int64_t oy = 0; oy < oh; oy++)
      for (int64_t ox = 0; ox < ow; ox++) {
        cell c =
            cell_of(id == GB_OP_AVG_POOL2D_BACKWARD ? GB_OP_AVG_POOL2D : GB_OP_ADAPTIVE_AVG_POOL2D,
                    a, h, w, oh, ow, oy, ox);
        float v = *g++;
        if (c.div <= 0) continue;
        float share = (float)(v / c.div);
        for (int64_t iy = c.y0; iy < c.y1; iy++)
          for (int64_t ix = c.x0; ix < c.x1; ix++)
            plane[iy * w + ix] += share;
      }
  }
  gb_tensor_release(S, gc);
  return GB_OK;
}

gb_status gb_cpu_avg_pool2d(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return pool_forward(S, GB_OP_AVG_POOL2D, a, out);
}

gb_status gb_cpu_avg_pool2d_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return pool_backward(S, GB_OP_AVG_POOL2D_BACKWARD, a, out);
}

gb_status gb_cpu_adaptive_avg_pool2d(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return pool_forward(S, GB_OP_ADAPTIVE_AVG_POOL2D, a, out);
}

gb_status gb_cpu_adaptive_avg_pool2d_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return pool_backward(S, GB_OP_ADAPTIVE_AVG_POOL2D_BACKWARD, a, out);
}
