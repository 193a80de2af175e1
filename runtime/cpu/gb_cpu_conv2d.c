/* gb_cpu_conv2d.c — the fused conv2d rows on the CPU. Each image's output positions are cut
 * into tiles; a tile's patches are unfolded (im2col) into a per-thread buffer of at most
 * GB_CONV_TILE_BYTES and multiplied by the weight, so memory stays bounded at any batch
 * (the unfolded patches of a whole batch are never held). Jobs (image, tile) run on the
 * worker pool (gb_cpu_parallel.h); the backward rows thread over images, the weight gradient
 * with one accumulator per thread, summed at the end in a fixed order. Where oneDNN measured
 * faster (gb_dnnl.h), a pass goes to it instead, when it is installed. With groups (i11) each
 * group is its own product: output channels [gi*O/G, (gi+1)*O/G) read input channels
 * [gi*C/G, (gi+1)*C/G); dilation (i9, i10) spaces the kernel taps (gb_window.h). A depthwise
 * forward (one channel in and out per group) is a direct loop instead. */
#include <stdlib.h>
#include <string.h>

#include "gb_blas.h"
#include "gb_cpu.h"
#include "gb_cpu_parallel.h"
#include "gb_dnnl.h"
#include "gb_window.h"

#ifndef GB_CONV_TILE_BYTES
#define GB_CONV_TILE_BYTES (256 * 1024)
#endif

typedef struct conv_geom {
  int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
  int64_t groups, cg, og; /* groups, input and output channels per group */
  int64_t k, p, tile;     /* K = C/G*kh*kw values per patch, P = OH*OW positions, tile positions */
  bool direct;            /* 1x1 kernel, stride 1, no padding: the image is its own patch matrix */
} conv_geom;

/* the geometry of an (n,c,h,w) input with o output channels of (oh, ow) positions (from the
 * shape rule's tensors: one place computes output sizes, gb_window_out) */
static conv_geom geom_of(const gb_opargs *a, int64_t n, int64_t c, int64_t h, int64_t w, int64_t o,
                         int64_t oh, int64_t ow) {
  gb_window win = gb_window_of(a);
  conv_geom g = {.n = n,
                 .c = c,
                 .h = h,
                 .w = w,
                 .o = o,
                 .kh = win.kh,
                 .kw = win.kw,
                 .sh = win.sh,
                 .sw = win.sw,
                 .ph = win.ph,
                 .pw = win.pw,
                 .dh = win.dh,
                 .dw = win.dw,
                 .oh = oh,
                 .ow = ow,
                 .groups = gb_window_groups(a)};
  g.cg = c / g.groups, g.og = o / g.groups;
  g.k = g.cg * g.kh * g.kw;
  g.p = g.oh * g.ow;
  int64_t t = GB_CONV_TILE_BYTES / (int64_t)sizeof(float) / (g.k > 0 ? g.k : 1);
  if (t < 16) t = 16;
  g.tile = t < g.p ? t : g.p;
  if (g.tile < 1) g.tile = 1;
  g.direct = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
  return g;
}

/* The pass through oneDNN, if it takes it: true when out is written. */
static bool via_dnnl(gb_dnnl_pass p, const conv_geom *g, const float *a, const float *b,
                     float *bias, float *out) { /* the bias: backward weights' second output */
  gb_dnnl_conv d = {g->n,  g->c,  g->h,  g->w,  g->o,  g->kh, g->kw, g->oh,
                    g->ow, g->sh, g->sw, g->ph, g->pw, g->dh, g->dw, g->groups};
  return gb_dnnl_wants(p, &d) && gb_dnnl_conv2d(p, &d, a, b, bias, out, gb_cpu_jobs_threads());
}

/* Columns ox of output row oy whose input column ox*sw - pw + xoff lies inside 0..w-1 (xoff =
 * kx*dw, the tap's offset): [*lo, *hi). */
static void valid_cols(const conv_geom *g, int64_t xoff, int64_t *lo, int64_t *hi) {
  int64_t a = g->pw - xoff; /* ox*sw >= a */
  /* the ceiling of a / sw, written so that a huge stride cannot overflow a + sw */
  *lo = a <= 0 ? 0 : a / g->sw + (a % g->sw != 0);
  int64_t b = g->w - 1 + g->pw - xoff; /* ox*sw <= b */
  *hi = b < 0 ? 0 : b / g->sw + 1;
  if (*hi > g->ow) *hi = g->ow;
  if (*lo > *hi) *lo = *hi;
}

/* patches of positions p0..p0+t of one group's channels x (C/G,H,W) of an image into col
 * (K, t), zero outside: one (c, ky, kx) row at a time, output row by output row, the in-image
 * run copied in one go */
static void unfold(const conv_geom *g, const float *x, int64_t p0, int64_t t, float *col) {
  for (int64_t c = 0; c < g->cg; c++)
    for (int64_t ky = 0; ky < g->kh; ky++)
      for (int64_t kx = 0; kx < g->kw; kx++) {
        float *row = col + ((c * g->kh + ky) * g->kw + kx) * t;
        const float *plane = x + c * g->h * g->w;
        int64_t lo, hi, xoff = kx * g->dw;
        valid_cols(g, xoff, &lo, &hi);
        for (int64_t j = 0; j < t;) {
          int64_t p = p0 + j, oy = p / g->ow, ox0 = p % g->ow;
          int64_t n = g->ow - ox0 < t - j ? g->ow - ox0 : t - j; /* this output row's part */
          float *dst = row + j;
          int64_t iy = oy * g->sh - g->ph + ky * g->dh;
          if (iy < 0 || iy >= g->h) {
            memset(dst, 0, (size_t)n * sizeof(float));
          } else {
            const float *src = plane + iy * g->w - g->pw + xoff;
            int64_t a = ox0 > lo ? ox0 : lo, b = ox0 + n < hi ? ox0 + n : hi;
            if (b < a) b = a;
            for (int64_t ox = ox0; ox < a; ox++)
              dst[ox - ox0] = 0.0f;
            if (g->sw == 1)
              memcpy(dst + (a - ox0), src + a, (size_t)(b - a) * sizeof(float));
            else
              for (int64_t ox = a; ox < b; ox++)
                dst[ox - ox0] = src[ox * g->sw];
            for (int64_t ox = b; ox < ox0 + n; ox++)
              dst[ox - ox0] = 0.0f;
          }
          j += n;
        }
      }
}

/* the adjoint: adds col (K, t) into one group's channels gx (C/G,H,W) where unfold read it */
static void fold_add(const conv_geom *g, const float *col, int64_t p0, int64_t t, float *gx) {
  for (int64_t c = 0; c < g->cg; c++)
    for (int64_t ky = 0; ky < g->kh; ky++)
      for (int64_t kx = 0; kx < g->kw; kx++) {
        const float *row = col + ((c * g->kh + ky) * g->kw + kx) * t;
        float *plane = gx + c * g->h * g->w;
        int64_t lo, hi, xoff = kx * g->dw;
        valid_cols(g, xoff, &lo, &hi);
        for (int64_t j = 0; j < t;) {
          int64_t p = p0 + j, oy = p / g->ow, ox0 = p % g->ow;
          int64_t n = g->ow - ox0 < t - j ? g->ow - ox0 : t - j;
          int64_t iy = oy * g->sh - g->ph + ky * g->dh;
          if (iy >= 0 && iy < g->h) {
            float *dst = plane + iy * g->w - g->pw + xoff;
            const float *src = row + j - ox0;
            int64_t a = ox0 > lo ? ox0 : lo, b = ox0 + n < hi ? ox0 + n : hi;
            if (g->sw == 1)
              for (int64_t ox = a; ox < b; ox++)
                dst[ox] += src[ox];
            else
              for (int64_t ox = a; ox < b; ox++)
                dst[ox * g->sw] += src[ox];
          }
          j += n;
        }
      }
}

typedef void (*sgemm_fn)(bool, bool, int, int, int, float, const float *, int, const float *, int,
                         float, float *, int);

typedef struct conv_job {
  conv_geom g;
  const float *x, *w, *b, *gout;
  float *y, *gx, *gw; /* gw: one (O,K) accumulator per thread */
  float *bufs;        /* one (K, tile) patch buffer per thread */
  double *gb;         /* bias gradient: one (O) accumulator per part, or NULL */
  int64_t ntiles;
  sgemm_fn gemm;
} conv_job;

static float *thread_buf(const conv_job *j, int worker) {
  return j->bufs + (size_t)worker * (size_t)(j->g.k * j->g.tile);
}

/* ---- forward: y[n] group gi (O/G,P) = W[gi] (O/G,K) x cols (K,P) + b ---- */

/* job = (image n, group gi, tile) */
static void forward_job(void *ctx, int worker, int64_t job) {
  const conv_job *j = ctx;
  const conv_geom *g = &j->g;
  int64_t tile = job % j->ntiles, gi = job / j->ntiles % g->groups, n = job / j->ntiles / g->groups;
  int64_t p0 = tile * g->tile, t = g->p - p0 < g->tile ? g->p - p0 : g->tile;
  const float *x = j->x + (n * g->c + gi * g->cg) * g->h * g->w;
  float *y = j->y + (n * g->o + gi * g->og) * g->p;
  const float *b = j->b + gi * g->og, *w = j->w + gi * g->og * g->k;
  for (int64_t o = 0; o < g->og; o++)
    for (int64_t q = 0; q < t; q++)
      y[o * g->p + p0 + q] = b[o];
  const float *col;
  int ldb;
  if (g->direct) {
    col = x + p0, ldb = (int)g->p;
  } else {
    float *buf = thread_buf(j, worker);
    unfold(g, x, p0, t, buf);
    col = buf, ldb = (int)t;
  }
  j->gemm(false, false, (int)g->og, (int)t, (int)g->k, 1.0f, w, (int)g->k, col, ldb, 1.0f, y + p0,
          (int)g->p);
}

/* Runs njobs of fn, threaded when more than one job; allocates the patch buffers (and, with
 * gw_each, a zeroed (O,K) accumulator per thread). */
static gb_status run(gb_state *S, conv_job *j, int64_t njobs, gb_par_fn fn, bool gw_each,
                     int *threads_out) {
  int threads = gb_cpu_jobs_threads();
  if (threads > njobs) threads = (int)(njobs > 0 ? njobs : 1);
  j->gemm = threads > 1 ? gb_blas_sgemm_serial : gb_blas_sgemm;
  size_t per = j->g.direct && !gw_each ? 0 : (size_t)(j->g.k * j->g.tile);
  size_t acc = gw_each ? (size_t)(j->g.o * j->g.k) : 0;
  j->bufs = NULL;
  if (per + acc) {
    j->bufs = calloc((size_t)threads, (per + acc) * sizeof(float));
    if (!j->bufs) return gb_errorf(S, GB_EOOM, "conv2d: out of memory for patch buffers");
  }
  j->gw = j->bufs ? j->bufs + (size_t)threads * per : NULL;
  gb_cpu_jobs(njobs, threads, fn, j);
  *threads_out = threads;
  return GB_OK;
}

/* ---- depthwise forward (one input and one output channel per group): each output row is
 * the bias plus, per tap, one weight times a shifted input row; no patches, no products ---- */

static void depthwise_job(void *ctx, int worker, int64_t job) {
  (void)worker;
  const conv_job *j = ctx;
  const conv_geom *g = &j->g;
  int64_t p1 = (job + 1) * j->ntiles < g->n * g->o ? (job + 1) * j->ntiles : g->n * g->o;
  for (int64_t p = job * j->ntiles; p < p1; p++) { /* plane p = (image, channel) */
    int64_t ch = p % g->o;
    const float *x = j->x + p * g->h * g->w, *w = j->w + ch * g->kh * g->kw;
    for (int64_t oy = 0; oy < g->oh; oy++) {
      float *yr = j->y + (p * g->oh + oy) * g->ow;
      for (int64_t ox = 0; ox < g->ow; ox++)
        yr[ox] = j->b[ch];
      for (int64_t ky = 0; ky < g->kh; ky++) {
        int64_t iy = oy * g->sh - g->ph + ky * g->dh;
        if (iy < 0 || iy >= g->h) continue;
        for (int64_t kx = 0; kx < g->kw; kx++) {
          int64_t lo, hi, xoff = kx * g->dw;
          valid_cols(g, xoff, &lo, &hi);
          const float *src = x + iy * g->w - g->pw + xoff;
          float wv = w[ky * g->kw + kx];
          if (g->sw == 1)
            for (int64_t ox = lo; ox < hi; ox++)
              yr[ox] += wv * src[ox];
          else
            for (int64_t ox = lo; ox < hi; ox++)
              yr[ox] += wv * src[ox * g->sw];
        }
      }
    }
  }
}

/* planes per job: about 2^16 multiply-adds each, so a job outweighs its hand-off */
static void run_depthwise(conv_job *j) {
  int64_t per =
      ((int64_t)1 << 16) / (j->g.p * j->g.kh * j->g.kw > 0 ? j->g.p * j->g.kh * j->g.kw : 1);
  j->ntiles = per < 1 ? 1 : per; /* here: planes per job */
  int64_t planes = j->g.n * j->g.o, njobs = (planes + j->ntiles - 1) / j->ntiles;
  gb_cpu_jobs(njobs, gb_cpu_jobs_threads(), depthwise_job, j);
}

/* (x (N,C,H,W), w (O,C/G,kh,kw), b (O)) -> y (N,O,OH,OW) */
gb_status gb_cpu_conv2d(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *c[3];
  gb_status st = gb_opargs_contiguous(S, a, 3, c);
  if (st) return st;
  conv_job j = {.g = geom_of(a, c[0]->shape[0], c[0]->shape[1], c[0]->shape[2], c[0]->shape[3],
                             c[1]->shape[0], out[0]->shape[2], out[0]->shape[3]),
                .x = gb_tensor_f32(c[0]),
                .w = gb_tensor_f32(c[1]),
                .b = gb_tensor_f32(c[2]),
                .y = gb_tensor_f32(out[0])};
  j.ntiles = (j.g.p + j.g.tile - 1) / j.g.tile;
  int threads;
  bool depthwise = j.g.groups > 1 && j.g.cg == 1 && j.g.og == 1;
  if (out[0]->numel == 0 || via_dnnl(GB_DNNL_FORWARD, &j.g, j.x, j.w, (float *)j.b, j.y))
    ; /* done */
  else if (depthwise)
    run_depthwise(&j);
  else
    st = run(S, &j, j.g.n * j.g.groups * j.ntiles, forward_job, false, &threads);
  free(j.bufs);
  gb_tensors_release(S, c, 3);
  return st;
}

/* ---- backward input, per group gi: cols (K,P) = W[gi]^T (K,O/G) x gout[n][gi] (O/G,P),
 * folded into gx[n][gi] ---- */

static void backward_input_group(const conv_job *j, int worker, int64_t n, int64_t gi) {
  const conv_geom *g = &j->g;
  const float *go = j->gout + (n * g->o + gi * g->og) * g->p, *w = j->w + gi * g->og * g->k;
  float *gx = j->gx + (n * g->c + gi * g->cg) * g->h * g->w;
  if (g->direct) { /* gx[n][gi] (C/G,P) = W[gi]^T (C/G,O/G) x gout[n][gi] (O/G,P) */
    j->gemm(true, false, (int)g->cg, (int)g->p, (int)g->og, 1.0f, w, (int)g->k, go, (int)g->p, 0.0f,
            gx, (int)g->p);
    return;
  }
  memset(gx, 0, (size_t)(g->cg * g->h * g->w) * sizeof(float));
  float *buf = thread_buf(j, worker);
  for (int64_t p0 = 0; p0 < g->p; p0 += g->tile) {
    int64_t t = g->p - p0 < g->tile ? g->p - p0 : g->tile;
    j->gemm(true, false, (int)g->k, (int)t, (int)g->og, 1.0f, w, (int)g->k, go + p0, (int)g->p,
            0.0f, buf, (int)t);
    fold_add(g, buf, p0, t, gx);
  }
}

static void backward_input_job(void *ctx, int worker, int64_t n) {
  const conv_job *j = ctx;
  for (int64_t gi = 0; gi < j->g.groups; gi++)
    backward_input_group(j, worker, n, gi);
}

/* (gout (N,O,OH,OW), w (O,C/G,kh,kw)) -> gx (N,C,H,W) with H, W = i6, i7 */
gb_status gb_cpu_conv2d_backward_input(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *c[2];
  gb_status st = gb_opargs_contiguous(S, a, 2, c);
  if (st) return st;
  gb_tensor *gx = out[0];
  conv_job j = {.g = geom_of(a, gx->shape[0], gx->shape[1], gx->shape[2], gx->shape[3],
                             c[1]->shape[0], c[0]->shape[2], c[0]->shape[3]),
                .gout = gb_tensor_f32(c[0]),
                .w = gb_tensor_f32(c[1]),
                .gx = gb_tensor_f32(gx)};
  int threads;
  if (gx->numel > 0 && !via_dnnl(GB_DNNL_BACKWARD_DATA, &j.g, j.gout, j.w, NULL, j.gx))
    st = run(S, &j, j.g.n, backward_input_job, false, &threads);
  free(j.bufs);
  gb_tensors_release(S, c, 2);
  return st;
}

/* ---- backward weight, per group gi: gw[gi] (O/G,K) = sum_n gout[n][gi] (O/G,P) x
 * cols[n][gi]^T (P,K) ---- */

/* sum of p[0..n): 8 float lanes per block of 256, blocks added in double (vectorizes) */
static double plane_sum(const float *p, int64_t n) {
  double s = 0;
  for (int64_t k0 = 0; k0 < n; k0 += 256) {
    int64_t k1 = n - k0 < 256 ? n : k0 + 256, k = k0;
    float a[8] = {0};
    for (; k + 8 <= k1; k += 8)
      for (int l = 0; l < 8; l++)
        a[l] += p[k + l];
    for (; k < k1; k++)
      a[0] += p[k];
    for (int l = 0; l < 8; l++)
      s += a[l];
  }
  return s;
}

static void weight_image(const conv_job *j, int64_t n, float *buf, float *acc);

/* Job `part` of j->ntiles parts sums images [part*N/parts, (part+1)*N/parts) into accumulator
 * `part`: a static split, so the sums (and their rounding) do not depend on timing. */
static void backward_weight_job(void *ctx, int worker, int64_t part) {
  const conv_job *j = ctx;
  const conv_geom *g = &j->g;
  float *acc = j->gw + (size_t)part * (size_t)(g->o * g->k);
  float *buf = thread_buf(j, worker);
  double *bacc = j->gb ? j->gb + part * g->o : NULL;
  for (int64_t n = part * g->n / j->ntiles; n < (part + 1) * g->n / j->ntiles; n++) {
    weight_image(j, n, buf, acc);
    for (int64_t o = 0; bacc && o < g->o; o++)
      bacc[o] += plane_sum(j->gout + (n * g->o + o) * g->p, g->p);
  }
}

static void weight_image(const conv_job *j, int64_t n, float *buf, float *acc) {
  const conv_geom *g = &j->g;
  for (int64_t gi = 0; gi < g->groups; gi++) {
    const float *go = j->gout + (n * g->o + gi * g->og) * g->p;
    const float *x = j->x + (n * g->c + gi * g->cg) * g->h * g->w;
    float *accg = acc + gi * g->og * g->k;
    for (int64_t p0 = 0; p0 < g->p; p0 += g->tile) {
      int64_t t = g->p - p0 < g->tile ? g->p - p0 : g->tile;
      const float *col = buf;
      int ld = (int)t;
      if (g->direct)
        col = x + p0, ld = (int)g->p;
      else
        unfold(g, x, p0, t, buf);
      j->gemm(false, true, (int)g->og, (int)g->k, (int)t, 1.0f, go + p0, (int)g->p, col, ld, 1.0f,
              accg, (int)g->k);
    }
  }
}

/* (gout (N,O,OH,OW), x (N,C,H,W)) -> gw (O,C/G,kh,kw) [, with i8: gbias (O)] */
gb_status gb_cpu_conv2d_backward_weight(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *c[2];
  gb_status st = gb_opargs_contiguous(S, a, 2, c);
  if (st) return st;
  gb_tensor *gw = out[0];
  conv_job j = {.g = geom_of(a, c[1]->shape[0], c[1]->shape[1], c[1]->shape[2], c[1]->shape[3],
                             gw->shape[0], c[0]->shape[2], c[0]->shape[3]),
                .gout = gb_tensor_f32(c[0]),
                .x = gb_tensor_f32(c[1])};
  float *dst = gb_tensor_f32(gw), *gbias = out[1] ? gb_tensor_f32(out[1]) : NULL;
  int threads = 1;
  bool some = gw->numel > 0 && j.g.n > 0 && j.g.p > 0;
  if (some && via_dnnl(GB_DNNL_BACKWARD_WEIGHTS, &j.g, j.gout, j.x, gbias, dst)) {
    some = false;
  } else { /* also after a refusal midway */
    memset(dst, 0, (size_t)gw->numel * sizeof(float));
    if (gbias) memset(gbias, 0, (size_t)out[1]->numel * sizeof(float));
  }
  if (some) {
    int parts = gb_cpu_jobs_threads();
    j.ntiles = parts < j.g.n ? parts : j.g.n;
    if (gbias && !(j.gb = calloc((size_t)(j.ntiles * j.g.o), sizeof(double))))
      st = gb_errorf(S, GB_EOOM, "conv2d: out of memory for the bias gradient");
    if (!st) st = run(S, &j, j.ntiles, backward_weight_job, true, &threads);
    for (int t = 0; !st && t < threads; t++) { /* fixed order */
      const float *acc = j.gw + (size_t)t * (size_t)gw->numel;
      for (int64_t e = 0; e < gw->numel; e++)
        dst[e] += acc[e];
    }
    for (int64_t o = 0; !st && gbias && o < j.g.o; o++) {
      double sum = 0;
      for (int64_t t = 0; t < j.ntiles; t++) /* fixed order */
        sum += j.gb[t * j.g.o + o];
      gbias[o] = (float)sum;
    }
  }
  free(j.gb);
  free(j.bufs);
  gb_tensors_release(S, c, 2);
  return st;
}
