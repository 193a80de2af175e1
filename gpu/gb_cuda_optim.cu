/* gb_cuda_optim.cu — fused optimizer updates on the GPU: one kernel pass over a parameter, its
 * gradient and its state, in place, with the operation order of runtime/cpu/gb_cpu_optim.c
 * (float32) and gb_cpu_optim_f64.c (float64): PyTorch's documented SGD and Adam/AdamW. The
 * bias corrections are computed once on the host exactly as the CPU does. */
#include "gb_cuda_impl.h"

/* T: float, or double for float64 parameters (the same operation order in double) */
template <class T>
__global__ void k_sgd(int64_t n, T *p, const T *g, T *buf, T lr, T mom, T damp, T wd, bool nesterov,
                      bool first) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < n;
       k += (int64_t)gridDim.x * blockDim.x) {
    T d = g[k];
    if (wd != (T)0) d += wd * p[k];
    if (mom != (T)0) {
      T b = first ? d : mom * buf[k] + ((T)1 - damp) * d;
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
  unsigned blocks = gb_cuda_blocks(n, GB_CUDA_THREADS);
  if (out[0]->dtype == GB_F64)
    k_sgd<double><<<blocks, GB_CUDA_THREADS, 0, c->stream>>>(
        n, gb_cu_data<double>(out[0]), gb_cu_data<double>(a->in[1]), gb_cu_data<double>(a->in[2]),
        a->f[0], a->f[1], a->f[2], a->f[3], a->i[0] != 0, a->i[1] != 0);
  else
    k_sgd<float><<<blocks, GB_CUDA_THREADS, 0, c->stream>>>(
        n, gb_tensor_f32(out[0]), gb_tensor_f32(a->in[1]), gb_tensor_f32(a->in[2]), (float)a->f[0],
        (float)a->f[1], (float)a->f[2], (float)a->f[3], a->i[0] != 0, a->i[1] != 0);
  GB_LAUNCHED(S, dev, c, "sgd_step kernel");
  return GB_OK;
}

template <class T>
__global__ void k_adam(int64_t n, T *p, const T *g, T *m, T *v, T lr, T b1, T b2, T eps, T wd,
                       bool decoupled, T step_size, T bc2_sqrt) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < n;
       k += (int64_t)gridDim.x * blockDim.x) {
    T d = g[k], pk = p[k];
    if (wd != (T)0) {
      if (decoupled)
        pk *= (T)1 - lr * wd;
      else
        d += wd * pk;
    }
    T mk = m[k] * b1 + ((T)1 - b1) * d;
    T vk = v[k] * b2 + ((T)1 - b2) * d * d;
    m[k] = mk;
    v[k] = vk;
    p[k] = pk - step_size * (mk / (gb_cu_sqrt(vk) / bc2_sqrt + eps));
  }
}

/* The bias corrections on the host from the hyperparameters rounded to T, as the CPU does. */
template <class T> static void launch_adam(const gb_opargs *a, gb_tensor *p, cudaStream_t s) {
  const T lr = (T)a->f[0], b1 = (T)a->f[1], b2 = (T)a->f[2];
  double t = (double)a->i[0];
  const T step_size = (T)((double)lr / (1.0 - pow((double)b1, t)));
  const T bc2_sqrt = (T)sqrt(1.0 - pow((double)b2, t));
  int64_t n = p->numel;
  k_adam<T><<<gb_cuda_blocks(n, GB_CUDA_THREADS), GB_CUDA_THREADS, 0, s>>>(
      n, gb_cu_data<T>(p), gb_cu_data<T>(a->in[1]), gb_cu_data<T>(a->in[2]),
      gb_cu_data<T>(a->in[3]), lr, b1, b2, (T)a->f[3], (T)a->f[4], a->i[1] != 0, step_size,
      bc2_sqrt);
}

extern "C" gb_status gb_cuda_adam_step(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_cuda_dev *c;
  gb_device dev = out[0]->device;
  gb_status st = gb_cuda_ctx(S, dev, &c);
  if (st) return st;
  int64_t n = out[0]->numel;
  if (n == 0) return GB_OK;
  if (out[0]->dtype == GB_F64)
    launch_adam<double>(a, out[0], c->stream);
  else
    launch_adam<float>(a, out[0], c->stream);
  GB_LAUNCHED(S, dev, c, "adam_step kernel");
  return GB_OK;
}
