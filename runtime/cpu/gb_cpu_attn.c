/* gb_cpu_attn.c — CPU kernels of the Transformer's fused rows: layer norm (one pass over each
 * row forward, one backward), the masked softmax (masks applied while reading the scores) and
 * scaled dot-product attention, which never holds more scores than one tile of query rows per
 * thread: per (batch, head) it multiplies a block of queries by the keys it may see, adds the
 * optional mask (read in place through broadcast strides), takes the softmax in place and
 * multiplies by the values; backward recomputes the tile. */
#include <math.h>
#include <string.h>

#include "gb_blas.h"
#include "gb_cpu.h"
#include "gb_cpu_parallel.h"
#include "gb_math.h"

#define fast_expf gb_f_exp_fast /* gb_math.h: vectorizes here (-fno-trapping-math) */

/* p[0..valid) <- softmax of p[0..valid), p[valid..n) <- 0. A NaN makes the row NaN (it reaches
 * every entry through the sum); a row whose entries are all -inf is NaN, as PyTorch's. */
GB_CPU_CLONES
static void softmax_row(float *p, int64_t valid, int64_t n) {
  float m8[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
                 -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int64_t j = 0;
  for (; j + 8 <= valid; j += 8)
    for (int l = 0; l < 8; l++)
      m8[l] = p[j + l] > m8[l] ? p[j + l] : m8[l];
  for (; j < valid; j++)
    m8[0] = p[j] > m8[0] ? p[j] : m8[0];
  float mx = m8[0];
  for (int l = 1; l < 8; l++)
    mx = m8[l] > mx ? m8[l] : mx;
  float s8[8] = {0};
  for (j = 0; j + 8 <= valid; j += 8)
    for (int l = 0; l < 8; l++) {
      float e = fast_expf(p[j + l] - mx);
      p[j + l] = e;
      s8[l] += e;
    }
  for (; j < valid; j++) {
    p[j] = fast_expf(p[j] - mx);
    s8[0] += p[j];
  }
  double sum = 0;
  for (int l = 0; l < 8; l++)
    sum += s8[l];
  float inv = (float)(1.0 / sum);
  for (j = 0; j < valid; j++)
    p[j] *= inv;
  for (; j < n; j++)
    p[j] = 0.0f;
}

/* ---- layer norm ---------------------------------------------------------------------------- */

typedef struct ln_job {
  int64_t rows, n, per; /* rows of n elements; `per` rows per job */
  double eps;           /* float32 rows: the float eps, widened */
  /* float for float32 tensors, double for float64 ones (the row functions cast) */
  const void *x, *w, *b, *g;
  void *y, *stats, *gx, *part; /* part: (jobs, 2, n) partial dw, db */
} ln_job;

/* LN_ROWS_FOR(T, P): one job's rows over elements of type T, one body for float (f_) and double
 * (d_). P##row_moments: mean and 1/sqrt(biased var + eps) of one row, two passes in 8 lanes of T
 * added in double (for float the loops vectorize and the rounding stays that of short float
 * sums). P##ln_forward: y and the (rows, 2) statistics. P##ln_backward:
 * gx = rstd * (gh - mean(gh) - xh * mean(gh * xh)) with xh the normalized row and gh = g * w;
 * the job's rows add their g * xh and g into its own partial dw, db. */
#define LN_ROWS_FOR(T, P)                                                                          \
  static void P##row_moments(const T *x, int64_t n, double eps, T *mean, T *rstd) {                \
    T a[8] = {0};                                                                                  \
    int64_t k = 0;                                                                                 \
    for (; k + 8 <= n; k += 8)                                                                     \
      for (int l = 0; l < 8; l++)                                                                  \
        a[l] += x[k + l];                                                                          \
    for (; k < n; k++)                                                                             \
      a[0] += x[k];                                                                                \
    double s = 0;                                                                                  \
    for (int l = 0; l < 8; l++)                                                                    \
      s += a[l];                                                                                   \
    T mu = (T)(s / (double)n), b8[8] = {0};                                                        \
    for (k = 0; k + 8 <= n; k += 8)                                                                \
      for (int l = 0; l < 8; l++) {                                                                \
        T d = x[k + l] - mu;                                                                       \
        b8[l] += d * d;                                                                            \
      }                                                                                            \
    for (; k < n; k++)                                                                             \
      b8[0] += (x[k] - mu) * (x[k] - mu);                                                          \
    double ss = 0;                                                                                 \
    for (int l = 0; l < 8; l++)                                                                    \
      ss += b8[l];                                                                                 \
    *mean = mu;                                                                                    \
    *rstd = (T)(1.0 / sqrt(ss / (double)n + eps));                                                 \
  }                                                                                                \
  GB_CPU_CLONES                                                                                    \
  static void P##ln_forward(void *ctx, int worker, int64_t job) {                                  \
    (void)worker;                                                                                  \
    ln_job *j = ctx;                                                                               \
    int64_t r0 = job * j->per, r1 = r0 + j->per < j->rows ? r0 + j->per : j->rows, n = j->n;       \
    const T *w = j->w, *b = j->b;                                                                  \
    T *stats = j->stats;                                                                           \
    for (int64_t r = r0; r < r1; r++) {                                                            \
      const T *x = (const T *)j->x + r * n;                                                        \
      T *y = (T *)j->y + r * n, mu, rs;                                                            \
      P##row_moments(x, n, j->eps, &mu, &rs);                                                      \
      if (w)                                                                                       \
        for (int64_t k = 0; k < n; k++)                                                            \
          y[k] = (x[k] - mu) * rs * w[k] + b[k];                                                   \
      else                                                                                         \
        for (int64_t k = 0; k < n; k++)                                                            \
          y[k] = (x[k] - mu) * rs;                                                                 \
      stats[2 * r] = mu, stats[2 * r + 1] = rs;                                                    \
    }                                                                                              \
  }                                                                                                \
  GB_CPU_CLONES                                                                                    \
  static void P##ln_backward(void *ctx, int worker, int64_t job) {                                 \
    (void)worker;                                                                                  \
    ln_job *j = ctx;                                                                               \
    int64_t r0 = job * j->per, r1 = r0 + j->per < j->rows ? r0 + j->per : j->rows, n = j->n;       \
    const T *w = j->w;                                                                             \
    T *dw = (T *)j->part + job * 2 * n, *db = dw + n;                                              \
    memset(dw, 0, sizeof(T) * (size_t)(2 * n));                                                    \
    for (int64_t r = r0; r < r1; r++) {                                                            \
      const T *x = (const T *)j->x + r * n, *g = (const T *)j->g + r * n;                          \
      T *gx = (T *)j->gx + r * n, mu, rs;                                                          \
      P##row_moments(x, n, j->eps, &mu, &rs);                                                      \
      T a8[8] = {0}, b8[8] = {0};                                                                  \
      int64_t k = 0;                                                                               \
      for (; k + 8 <= n; k += 8)                                                                   \
        for (int l = 0; l < 8; l++) {                                                              \
          T xh = (x[k + l] - mu) * rs, gh = g[k + l] * (w ? w[k + l] : (T)1);                      \
          a8[l] += gh;                                                                             \
          b8[l] += gh * xh;                                                                        \
        }                                                                                          \
      for (; k < n; k++) {                                                                         \
        T xh = (x[k] - mu) * rs, gh = g[k] * (w ? w[k] : (T)1);                                    \
        a8[0] += gh;                                                                               \
        b8[0] += gh * xh;                                                                          \
      }                                                                                            \
      double sa = 0, sb = 0;                                                                       \
      for (int l = 0; l < 8; l++)                                                                  \
        sa += a8[l], sb += b8[l];                                                                  \
      T ma = (T)(sa / (double)n), mb = (T)(sb / (double)n);                                        \
      for (k = 0; k < n; k++) {                                                                    \
        T xh = (x[k] - mu) * rs, gh = g[k] * (w ? w[k] : (T)1);                                    \
        gx[k] = rs * (gh - ma - xh * mb);                                                          \
        dw[k] += g[k] * xh;                                                                        \
        db[k] += g[k];                                                                             \
      }                                                                                            \
    }                                                                                              \
  }

LN_ROWS_FOR(float, f_)
LN_ROWS_FOR(double, d_)

/* jobs of whole rows: one per thread when the tensor is large enough to pay for the pool */
static int64_t ln_split(ln_job *j, int *threads) {
  *threads = j->rows * j->n >= (1 << 15) ? gb_cpu_jobs_threads() : 1;
  int64_t jobs = *threads > j->rows ? j->rows : *threads;
  if (jobs < 1) jobs = 1;
  j->per = (j->rows + jobs - 1) / jobs;
  if (j->per < 1) j->per = 1;
  return (j->rows + j->per - 1) / j->per;
}

/* (x [, w, b]); i0 trailing dims, f0 eps -> y, stats (rows, 2); float32 or float64 alike */
gb_status gb_cpu_layer_norm(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *c[3];
  gb_status st = gb_opargs_contiguous(S, a, a->nin, c);
  if (st) return st;
  bool f64 = c[0]->dtype == GB_F64;
  ln_job j = {.rows = out[1]->shape[0],
              .eps = f64 ? a->f[0] : (double)(float)a->f[0],
              .x = gb_tensor_data(c[0])};
  j.n = j.rows ? c[0]->numel / j.rows : 0;
  if (a->nin == 3) j.w = gb_tensor_data(c[1]), j.b = gb_tensor_data(c[2]);
  j.y = gb_tensor_data(out[0]), j.stats = gb_tensor_data(out[1]);
  int threads;
  int64_t jobs = ln_split(&j, &threads);
  if (j.rows > 0 && j.n > 0) gb_cpu_jobs(jobs, threads, f64 ? d_ln_forward : f_ln_forward, &j);
  gb_tensors_release(S, c, a->nin);
  return GB_OK;
}

/* (gout, x [, w]) -> gx, (2, n) dw and db; float32 or float64 alike */
gb_status gb_cpu_layer_norm_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *c[3], *part = NULL;
  gb_status st = gb_opargs_contiguous(S, a, a->nin, c);
  if (st) return st;
  gb_dtype dt = c[1]->dtype;
  bool f64 = dt == GB_F64;
  int64_t n = out[1]->shape[1];
  ln_job j = {
      .n = n, .rows = n ? c[1]->numel / n : 0, .eps = f64 ? a->f[0] : (double)(float)a->f[0]};
  j.g = gb_tensor_data(c[0]), j.x = gb_tensor_data(c[1]);
  if (a->nin == 3) j.w = gb_tensor_data(c[2]);
  j.gx = gb_tensor_data(out[0]);
  void *dwb = gb_tensor_data(out[1]);
  memset(dwb, 0, gb_dtype_size(dt) * (size_t)(2 * n));
  int threads;
  int64_t jobs = ln_split(&j, &threads);
  if (j.rows > 0 && n > 0) {
    st = gb_tensor_empty(S, 2, (int64_t[]){jobs, 2 * n}, dt, GB_CPU, &part);
    if (!st) {
      j.part = gb_tensor_data(part);
      gb_cpu_jobs(jobs, threads, f64 ? d_ln_backward : f_ln_backward, &j);
      for (int64_t q = 0; q < jobs; q++) /* partials in job order: the same sums every run */
        for (int64_t k = 0; k < 2 * n; k++) {
          if (f64)
            ((double *)dwb)[k] += ((const double *)j.part)[q * 2 * n + k];
          else
            ((float *)dwb)[k] += ((const float *)j.part)[q * 2 * n + k];
        }
    }
  }
  gb_tensor_release(S, part);
  gb_tensors_release(S, c, a->nin);
  return st;
}

/* ---- masked softmax ------------------------------------------------------------------------ */

/* st[0..nd) <- the element strides of mask m aligned right to nd dims, 0 on the dims it
 * broadcasts over (missing or of size 1) */
static void bcast_strides(const gb_tensor *m, int nd, int64_t *st) {
  for (int d = 0; d < nd; d++) {
    int md = d - (nd - m->ndim);
    st[d] = md >= 0 && m->shape[md] != 1 ? m->stride[md] : 0;
  }
}

typedef struct msm_job {
  const float *x, *m;
  float *y;
  int nd;
  int64_t shape[GB_MAXDIM], mstride[GB_MAXDIM]; /* mask strides aligned to x (0: broadcast) */
  int64_t rows, L, S, per;
  bool causal;
} msm_job;

GB_CPU_CLONES
static void msm_rows(void *ctx, int worker, int64_t job) {
  (void)worker;
  msm_job *j = ctx;
  int64_t r0 = job * j->per, r1 = r0 + j->per < j->rows ? r0 + j->per : j->rows;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = j->x + r * j->S;
    float *y = j->y + r * j->S;
    int64_t i = r % j->L, valid = j->causal ? (i + 1 < j->S ? i + 1 : j->S) : j->S;
    if (j->m) {
      int64_t off = 0, rest = r; /* r's index over the leading dims, into the mask */
      for (int d = j->nd - 2; d >= 0; d--) {
        off += (rest % j->shape[d]) * j->mstride[d];
        rest /= j->shape[d];
      }
      const float *m = j->m + off;
      int64_t ms = j->mstride[j->nd - 1];
      for (int64_t k = 0; k < valid; k++)
        y[k] = x[k] + m[k * ms];
    } else {
      memcpy(y, x, sizeof(float) * (size_t)valid);
    }
    softmax_row(y, valid, j->S);
  }
}

/* (x [, mask]); i0 causal -> y */
gb_status gb_cpu_masked_softmax(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *xc;
  gb_status st = gb_tensor_contiguous(S, a->in[0], &xc);
  if (st) return st;
  msm_job j = {.x = gb_tensor_f32(xc), .y = gb_tensor_f32(out[0]), .nd = xc->ndim};
  memcpy(j.shape, xc->shape, sizeof j.shape);
  j.L = xc->shape[xc->ndim - 2], j.S = xc->shape[xc->ndim - 1];
  j.rows = j.S ? xc->numel / j.S : 0;
  j.causal = a->i[0] != 0;
  if (a->nin > 1) {
    j.m = gb_tensor_f32(a->in[1]);
    bcast_strides(a->in[1], j.nd, j.mstride);
  }
  int threads = xc->numel >= (1 << 15) ? gb_cpu_jobs_threads() : 1;
  int64_t jobs = threads * 4 < j.rows ? threads * 4 : j.rows;
  if (jobs > 0) {
    j.per = (j.rows + jobs - 1) / jobs;
    gb_cpu_jobs((j.rows + j.per - 1) / j.per, threads, msm_rows, &j);
  }
  gb_tensor_release(S, xc);
  return GB_OK;
}

/* ---- scaled dot-product attention ---------------------------------------------------------- */

#define SDPA_RB 32 /* query rows per tile */

typedef struct sdpa_job {
  int64_t B, H, L, S, E, Ev;
  float scale;
  bool causal;
  const float *q, *k, *v, *go;   /* q, k, v: rows of unit stride; go (B,L,H,Ev) contiguous */
  int64_t qs[3], ks[3], vs[3];   /* strides of dims B, H, L/S */
  const float *m;                /* the additive mask or NULL, read through ms */
  int64_t ms[4];                 /* its strides over (B,H,L,S), 0 where it broadcasts */
  float *o, *gq, *gkv, *scratch; /* scratch: 2 * SDPA_RB * S floats per worker */
} sdpa_job;

/* the tile of query rows [r0, r0 + rb) of head (b, h): P (rb, kn) <- softmax of the scaled
 * scores plus the mask M (at (b, h), or NULL) over the kn keys the block may see, causally
 * masked entries 0. A row whose every key the mask makes -inf is NaN (softmax_row), as in the
 * masked softmax row and PyTorch's math path. */
GB_CPU_CLONES
static void sdpa_probs(const sdpa_job *j, const float *Q, const float *K, const float *M,
                       int64_t r0, int64_t rb, int64_t kn, float *P) {
  gb_blas_sgemm_serial(false, true, (int)rb, (int)kn, (int)j->E, j->scale, Q + r0 * j->qs[2],
                       (int)j->qs[2], K, (int)j->ks[2], 0.0f, P, (int)kn);
  for (int64_t i = 0; M && i < rb; i++) {
    const float *mr = M + (r0 + i) * j->ms[2];
    float *p = P + i * kn;
    int64_t mc = j->ms[3];
    if (mc == 1)
      for (int64_t c = 0; c < kn; c++)
        p[c] += mr[c];
    else
      for (int64_t c = 0; c < kn; c++)
        p[c] += mr[c * mc];
  }
  for (int64_t i = 0; i < rb; i++) {
    int64_t valid = j->causal ? (r0 + i + 1 < kn ? r0 + i + 1 : kn) : kn;
    softmax_row(P + i * kn, valid, kn);
  }
}

static int64_t keys_seen(const sdpa_job *j, int64_t r0, int64_t rb) {
  return j->causal && r0 + rb < j->S ? r0 + rb : j->S;
}

/* the mask of head (b, h), or NULL */
static const float *head_mask(const sdpa_job *j, int64_t b, int64_t h) {
  return j->m ? j->m + b * j->ms[0] + h * j->ms[1] : NULL;
}

static void sdpa_forward(void *ctx, int worker, int64_t bh) {
  const sdpa_job *j = ctx;
  int64_t b = bh / j->H, h = bh % j->H, ldo = j->H * j->Ev;
  const float *Q = j->q + b * j->qs[0] + h * j->qs[1], *K = j->k + b * j->ks[0] + h * j->ks[1],
              *V = j->v + b * j->vs[0] + h * j->vs[1], *M = head_mask(j, b, h);
  float *P = j->scratch + (int64_t)worker * 2 * SDPA_RB * j->S;
  for (int64_t r0 = 0; r0 < j->L; r0 += SDPA_RB) {
    int64_t rb = j->L - r0 < SDPA_RB ? j->L - r0 : SDPA_RB, kn = keys_seen(j, r0, rb);
    sdpa_probs(j, Q, K, M, r0, rb, kn, P);
    float *O = j->o + (b * j->L + r0) * ldo + h * j->Ev;
    gb_blas_sgemm_serial(false, false, (int)rb, (int)j->Ev, (int)kn, 1.0f, P, (int)kn, V,
                         (int)j->vs[2], 0.0f, O, (int)ldo);
  }
}

/* dP = dO V^T; dS = P * (dP - rowsum(P * dP)); dQ = scale dS K, dK += scale dS^T Q,
 * dV += P^T dO, tile by tile (one job owns its head's dK and dV) */
GB_CPU_CLONES
static void sdpa_backward(void *ctx, int worker, int64_t bh) {
  const sdpa_job *j = ctx;
  int64_t b = bh / j->H, h = bh % j->H, ldo = j->H * j->Ev, ldkv = j->E + j->Ev;
  const float *Q = j->q + b * j->qs[0] + h * j->qs[1], *K = j->k + b * j->ks[0] + h * j->ks[1],
              *V = j->v + b * j->vs[0] + h * j->vs[1], *M = head_mask(j, b, h);
  float *P = j->scratch + (int64_t)worker * 2 * SDPA_RB * j->S, *dP = P + SDPA_RB * j->S;
  float *dK = j->gkv + bh * j->S * ldkv, *dV = dK + j->E;
  memset(dK, 0, sizeof(float) * (size_t)(j->S * ldkv));
  for (int64_t r0 = 0; r0 < j->L; r0 += SDPA_RB) {
    int64_t rb = j->L - r0 < SDPA_RB ? j->L - r0 : SDPA_RB, kn = keys_seen(j, r0, rb);
    sdpa_probs(j, Q, K, M, r0, rb, kn, P);
    const float *dO = j->go + (b * j->L + r0) * ldo + h * j->Ev;
    gb_blas_sgemm_serial(false, true, (int)rb, (int)kn, (int)j->Ev, 1.0f, dO, (int)ldo, V,
                         (int)j->vs[2], 0.0f, dP, (int)kn);
    for (int64_t i = 0; i < rb; i++) {
      float *p = P + i * kn, *d = dP + i * kn, a8[8] = {0};
      int64_t c = 0;
      for (; c + 8 <= kn; c += 8)
        for (int l = 0; l < 8; l++)
          a8[l] += p[c + l] * d[c + l];
      for (; c < kn; c++)
        a8[0] += p[c] * d[c];
      double dot = 0;
      for (int l = 0; l < 8; l++)
        dot += a8[l];
      float D = (float)dot;
      for (c = 0; c < kn; c++)
        d[c] = p[c] * (d[c] - D);
    }
    gb_blas_sgemm_serial(false, false, (int)rb, (int)j->E, (int)kn, j->scale, dP, (int)kn, K,
                         (int)j->ks[2], 0.0f, j->gq + (bh * j->L + r0) * j->E, (int)j->E);
    gb_blas_sgemm_serial(true, false, (int)kn, (int)j->E, (int)rb, j->scale, dP, (int)kn,
                         Q + r0 * j->qs[2], (int)j->qs[2], 1.0f, dK, (int)ldkv);
    gb_blas_sgemm_serial(true, false, (int)kn, (int)j->Ev, (int)rb, 1.0f, P, (int)kn, dO, (int)ldo,
                         1.0f, dV, (int)ldkv);
  }
}

/* t as BLAS can read it per (batch, head): rows of unit stride, a row stride at least the row
 * length that fits an int; otherwise a contiguous copy. *c holds the reference to release. */
static gb_status blas_ready(gb_state *S, gb_tensor *t, gb_tensor **c, const float **p,
                            int64_t *strides) {
  bool ok = t->stride[3] == 1 || t->shape[3] == 1;
  ok = ok && (t->stride[2] >= t->shape[3] || t->shape[2] == 1) && t->stride[2] <= (1 << 30);
  gb_status st;
  if (ok) {
    gb_tensor_retain(t);
    *c = t;
  } else if ((st = gb_tensor_contiguous(S, t, c))) {
    return st;
  }
  *p = gb_tensor_f32(*c);
  strides[0] = (*c)->stride[0], strides[1] = (*c)->stride[1];
  strides[2] = (*c)->shape[2] == 1 ? (*c)->shape[3] : (*c)->stride[2];
  if (strides[2] < (*c)->shape[3]) strides[2] = (*c)->shape[3];
  return GB_OK;
}

/* prepares j from q, k, v (inputs first..first+2 of a) and the mask (first+3, if given; read
 * in place through its strides) and runs fn over the B*H heads */
static gb_status sdpa_run(gb_state *S, const gb_opargs *a, int first, sdpa_job *j, gb_par_fn fn) {
  gb_tensor *c[3] = {NULL, NULL, NULL}, *scratch = NULL;
  const float *p[3];
  int64_t *strides[3] = {j->qs, j->ks, j->vs};
  gb_status st = GB_OK;
  for (int k = 0; k < 3 && !st; k++)
    st = blas_ready(S, a->in[first + k], &c[k], &p[k], strides[k]);
  if (!st) {
    const gb_tensor *q = a->in[first], *v = a->in[first + 2];
    j->B = q->shape[0], j->H = q->shape[1], j->L = q->shape[2], j->E = q->shape[3];
    j->S = v->shape[2], j->Ev = v->shape[3];
    j->scale = (float)a->f[0], j->causal = a->i[0] != 0;
    j->q = p[0], j->k = p[1], j->v = p[2];
    if (a->nin > first + 3) {
      j->m = gb_tensor_f32(a->in[first + 3]);
      bcast_strides(a->in[first + 3], 4, j->ms);
    }
    int64_t heads = j->B * j->H, work = heads * j->L * j->S * (j->E + j->Ev);
    int threads = work >= (1 << 18) ? gb_cpu_jobs_threads() : 1;
    if (threads > heads) threads = heads > 0 ? (int)heads : 1;
    st = gb_tensor_empty(S, 1, (int64_t[]){(int64_t)threads * 2 * SDPA_RB * j->S}, GB_F32, GB_CPU,
                         &scratch);
    if (!st) {
      j->scratch = gb_tensor_f32(scratch);
      if (heads > 0 && j->L > 0) gb_cpu_jobs(heads, threads, fn, j);
    }
  }
  gb_tensor_release(S, scratch);
  gb_tensors_release(S, c, 3);
  return st;
}

/* (q, k, v [, mask]); f0 scale, i0 causal -> (B,L,H,Ev) */
gb_status gb_cpu_sdpa(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  sdpa_job j = {.o = gb_tensor_f32(out[0])};
  return sdpa_run(S, a, 0, &j, sdpa_forward);
}

/* (gout, q, k, v [, mask]) -> gq (B,H,L,E), gkv (B,H,S,E+Ev) */
gb_status gb_cpu_sdpa_backward(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_tensor *gc;
  gb_status st = gb_tensor_contiguous(S, a->in[0], &gc);
  if (st) return st;
  sdpa_job j = {.go = gb_tensor_f32(gc), .gq = gb_tensor_f32(out[0]), .gkv = gb_tensor_f32(out[1])};
  if (out[1]->numel > 0 && a->in[1]->shape[2] == 0) /* no queries: dK, dV are zero */
    memset(j.gkv, 0, sizeof(float) * (size_t)out[1]->numel);
  st = sdpa_run(S, a, 1, &j, sdpa_backward);
  gb_tensor_release(S, gc);
  return st;
}
