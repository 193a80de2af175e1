/* gb_cuda_sort.cu — CUDA kernels of sort and topk along one dim, float32 and float64, matching
 * runtime/cpu/gb_cpu_sort.c: one thread per line merge-sorts its (value, index) pairs with
 * gb_sort.h (the CPU's code) in scratch buffers, then writes the first k with 1-based
 * indices. Correct for any sizes; a long single line runs on one thread (slow). */
#include "gb_cuda_impl.h"
#include "gb_sort.h"

/* gb_sort.h's line sort by element type */
__device__ __forceinline__ void sort_line(float *v, int64_t *ix, float *tv, int64_t *ti, int64_t n,
                                          bool desc) {
  gb_f_sort_line(v, ix, tv, ti, n, 1, desc);
}
__device__ __forceinline__ void sort_line(double *v, int64_t *ix, double *tv, int64_t *ti,
                                          int64_t n, bool desc) {
  gb_d_sort_line(v, ix, tv, ti, n, 1, desc);
}

/* T: float, or double for float64 */
template <class T>
__global__ void k_sort_lines(gb_dim_span sp, const T *x, T *v, int64_t *ix, T *tv, int64_t *ti,
                             T *ov, int64_t *oi, int64_t k, bool desc) {
  int64_t lines = sp.outer * sp.inner;
  for (int64_t l = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; l < lines;
       l += (int64_t)gridDim.x * blockDim.x) {
    int64_t o = l / sp.inner, i = l % sp.inner;
    const T *line = x + o * sp.n * sp.inner + i;
    T *lv = v + l * sp.n, *ltv = tv + l * sp.n;
    int64_t *lix = ix + l * sp.n, *lti = ti + l * sp.n;
    for (int64_t j = 0; j < sp.n; j++) {
      lv[j] = line[j * sp.inner];
      lix[j] = j;
    }
    sort_line(lv, lix, ltv, lti, sp.n, desc);
    for (int64_t j = 0; j < k; j++) {
      int64_t at = (o * k + j) * sp.inner + i;
      ov[at] = lv[j];
      oi[at] = lix[j] + 1;
    }
  }
}

template <class T>
static void launch_sort(gb_dim_span sp, cudaStream_t s, const gb_tensor *x, gb_tensor **scratch,
                        gb_tensor **out, int64_t k, bool desc) {
  int64_t lines = sp.outer * sp.inner;
  k_sort_lines<T><<<gb_cuda_blocks(lines, 128), 128, 0, s>>>(
      sp, gb_cu_data<T>(x), gb_cu_data<T>(scratch[0]), (int64_t *)gb_tensor_data(scratch[1]),
      gb_cu_data<T>(scratch[2]), (int64_t *)gb_tensor_data(scratch[3]), gb_cu_data<T>(out[0]),
      (int64_t *)gb_tensor_data(out[1]), k, desc);
}

static gb_status sort_lines(gb_state *S, const gb_opargs *a, gb_tensor **out, int64_t k,
                            bool desc) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  const gb_tensor *x = a->in[0];
  if (x->numel == 0 || out[0]->numel == 0) return GB_OK;
  gb_tensor *xc, *scratch[4] = {NULL, NULL, NULL, NULL};
  if ((st = gb_tensor_contiguous(S, a->in[0], &xc))) return st;
  int64_t n1[1] = {x->numel};
  for (int s = 0; s < 4 && !st; s++)
    st = gb_tensor_empty(S, 1, n1, s % 2 ? GB_I64 : xc->dtype, dev, &scratch[s]);
  if (!st) {
    gb_dim_span sp = gb_dim_span_of(xc, a->i[0]);
    if (xc->dtype == GB_F64)
      launch_sort<double>(sp, c->stream, xc, scratch, out, k, desc);
    else
      launch_sort<float>(sp, c->stream, xc, scratch, out, k, desc);
    st = gb_cuda_after_launch(S, dev, c->stream, "sort kernel", __FILE__, __LINE__);
  }
  for (int s = 0; s < 4; s++) /* stream-ordered: freed blocks are reused after the kernel */
    gb_tensor_release(S, scratch[s]);
  gb_tensor_release(S, xc);
  return st;
}

extern "C" gb_status gb_cuda_sort(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return sort_lines(S, a, out, a->in[0]->shape[a->i[0]], a->i[1] != 0);
}

extern "C" gb_status gb_cuda_topk(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return sort_lines(S, a, out, a->i[1], a->i[2] != 0);
}
