/* gb_cuda_sort.cu — CUDA kernels of sort and topk along one dim, matching
 * runtime/cpu/gb_cpu_sort.c: one thread per line merge-sorts its (value, index) pairs with
 * gb_sort.h (the CPU's code) in scratch buffers, then writes the first k with 1-based
 * indices. Correct for any sizes; a long single line runs on one thread (slow). */
#include "gb_cuda_impl.h"
#include "gb_sort.h"

__global__ void k_sort_lines(gb_dim_span sp, const float *x, float *v, int64_t *ix, float *tv,
                             int64_t *ti, float *ov, int64_t *oi, int64_t k, bool desc) {
  int64_t lines = sp.outer * sp.inner;
  for (int64_t l = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; l < lines;
       l += (int64_t)gridDim.x * blockDim.x) {
    int64_t o = l / sp.inner, i = l % sp.inner;
    const float *line = x + o * sp.n * sp.inner + i;
    float *lv = v + l * sp.n, *ltv = tv + l * sp.n;
    int64_t *lix = ix + l * sp.n, *lti = ti + l * sp.n;
    for (int64_t j = 0; j < sp.n; j++) {
      lv[j] = line[j * sp.inner];
      lix[j] = j;
    }
    gb_sort_line(lv, lix, ltv, lti, sp.n, 1, desc);
    for (int64_t j = 0; j < k; j++) {
      int64_t at = (o * k + j) * sp.inner + i;
      ov[at] = lv[j];
      oi[at] = lix[j] + 1;
    }
  }
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
    st = gb_tensor_empty(S, 1, n1, s % 2 ? GB_I64 : GB_F32, dev, &scratch[s]);
  if (!st) {
    gb_dim_span sp = gb_dim_span_of(xc, a->i[0]);
    int64_t lines = sp.outer * sp.inner;
    k_sort_lines<<<gb_cuda_blocks(lines, 128), 128, 0, c->stream>>>(
        sp, gb_tensor_f32(xc), gb_tensor_f32(scratch[0]), (int64_t *)gb_tensor_data(scratch[1]),
        gb_tensor_f32(scratch[2]), (int64_t *)gb_tensor_data(scratch[3]), gb_tensor_f32(out[0]),
        (int64_t *)gb_tensor_data(out[1]), k, desc);
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
