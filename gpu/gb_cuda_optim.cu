/* gb_cuda_optim.cu — fused optimizer updates on the GPU: one kernel pass over a parameter, its
 * gradient and its state, in place, with the float32 operation order of
 * runtime/cpu/gb_cpu_optim.c (PyTorch's documented SGD and Adam/AdamW). The bias corrections are
 * computed once on the host exactly as the CPU does. */
#include "gb_cuda_impl.h"

__global__ void k_sgd(int64_t n, float *p, const float *g, float *buf, float lr, float mom,
                      float damp, float wd, bool nesterov, bool first) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < n;
       k += (int64_t)gridDim.x * blockDim.x) {
    float d = g[k];
    if (wd != 0.0f) d += wd * p[k];
    if (mom != 0.0f) {
      float b = first ? d : mom * buf[k] + (1.0f - damp) * d;
      buf[k] = b;
      d = nesterov ? d + mom * b : b;
    }
    p[k] -= lr * d;
  }
}

extern "C" gb_status gb_cuda_sgd_step(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  int64_t n = out[0]->numel;
  if (n == 0) return GB_OK;
  k_sgd<<<gb_cuda_blocks(n, GB_CUDA_THREADS), GB_CUDA_THREADS, 0, c->stream>>>(
      n, gb_tensor_f32(out[0]), gb_tensor_f32(a->in[1]), gb_tensor_f32(a->in[2]), (float)a->f[0],
      (float)a->f[1], (float)a->f[2], (float)a->f[3], a->i[0] != 0, a->i[1] != 0);
  GB_LAUNCHED(S, dev, c, "sgd_step kernel");
  return GB_OK;
}

__global__ void k_adam(int64_t n, float *p, const float *g, float *m, float *v, float lr, float b1,
                       float b2, float eps, float wd, bool decoupled, float step_size,
                       float bc2_sqrt) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < n;
       k += (int64_t)gridDim.x * blockDim.x) {
    float d = g[k], pk = p[k];
    if (wd != 0.0f) {
      if (decoupled)
        pk *= 1.0f - lr * wd;
      else
        d += wd * pk;
    }
    float mk = m[k] * b1 + (1.0f - b1) * d;
    float vk = v[k] * b2 + (1.0f - b2) * d * d;
    m[k] = mk;
    v[k] = vk;
    p[k] = pk - step_size * (mk / (sqrtf(vk) / bc2_sqrt + eps));
  }
}

extern "C" gb_status gb_cuda_adam_step(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  int64_t n = out[0]->numel;
  if (n == 0) return GB_OK;
  const float lr = (float)a->f[0], b1 = (float)a->f[1], b2 = (float)a->f[2];
  double t = (double)a->i[0];
  const float step_size = (float)((double)lr / (1.0 - pow((double)b1, t)));
  const float bc2_sqrt = (float)sqrt(1.0 - pow((double)b2, t));
  k_adam<<<gb_cuda_blocks(n, GB_CUDA_THREADS), GB_CUDA_THREADS, 0, c->stream>>>(
      n, gb_tensor_f32(out[0]), gb_tensor_f32(a->in[1]), gb_tensor_f32(a->in[2]),
      gb_tensor_f32(a->in[3]), lr, b1, b2, (float)a->f[3], (float)a->f[4], a->i[1] != 0, step_size,
      bc2_sqrt);
  GB_LAUNCHED(S, dev, c, "adam_step kernel");
  return GB_OK;
}
