/* gb_dnnl.c — the conv2d rows' oneDNN path (gb_dnnl.h). oneDNN is opened with dlopen the first
 * time a convolution would use it, as gb_blas.c opens OpenBLAS: loading it maps ~60 MB and
 * starts an OpenMP runtime, which start-up and scripts without convolutions should not pay.
 * GB_DNNL_SONAME comes from cmake/dnnl.cmake; without it this file only says "not built".
 * Primitives (oneDNN's compiled kernels for one shape) are kept in a small cache, so a
 * training loop creates them once. */
#define _GNU_SOURCE /* setenv/unsetenv, RTLD_NOLOAD */
#include "gb_dnnl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Atomic int dnnl_mode = GB_DNNL_AUTO;

gb_dnnl_mode gb_dnnl_set_mode(gb_dnnl_mode mode) {
  return (gb_dnnl_mode)atomic_exchange(&dnnl_mode, (int)mode);
}

#ifndef GB_DNNL_SONAME

bool gb_dnnl_wants(gb_dnnl_pass p, const gb_dnnl_conv *g) {
  (void)p, (void)g;
  return false;
}

bool gb_dnnl_conv2d(gb_dnnl_pass p, const gb_dnnl_conv *g, const float *a, const float *b,
                    float *bias, float *out, int threads) {
  (void)p, (void)g, (void)a, (void)b, (void)bias, (void)out, (void)threads;
  return false;
}

const char *gb_dnnl_name(void) {
  return "oneDNN: not built in (no libdnnl-dev at configure time)";
}

#else

static char dnnl_name[200]; /* what gb_dnnl_name says once the library was tried */
#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.h>

/* The entry points we call, resolved from the library (their types from its header). */
static struct {
  __typeof__(dnnl_engine_create) *engine_create;
  __typeof__(dnnl_stream_create) *stream_create;
  __typeof__(dnnl_stream_wait) *stream_wait;
  __typeof__(dnnl_memory_desc_init_by_tag) *md_init;
  __typeof__(dnnl_memory_create) *memory_create;
  __typeof__(dnnl_memory_destroy) *memory_destroy;
  __typeof__(dnnl_dilated_convolution_forward_desc_init) *fwd_init;
  __typeof__(dnnl_dilated_convolution_backward_data_desc_init) *bwd_data_init;
  __typeof__(dnnl_dilated_convolution_backward_weights_desc_init) *bwd_weights_init;
  __typeof__(dnnl_primitive_desc_create) *pd_create;
  __typeof__(dnnl_primitive_desc_destroy) *pd_destroy;
  __typeof__(dnnl_primitive_create) *prim_create;
  __typeof__(dnnl_primitive_destroy) *prim_destroy;
  __typeof__(dnnl_primitive_execute) *execute;
  __typeof__(dnnl_version) *version;
  void (*omp_set_num_threads)(int); /* the OpenMP runtime oneDNN brought (NULL: none) */
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  bool ok;
} dn;

static pthread_once_t dnnl_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t dnnl_mu = PTHREAD_MUTEX_INITIALIZER; /* the cache and the stream */

/* Opens the library: dn.ok, or dnnl_name says why not. libgomp's threads spin for a while after
 * every parallel region unless told otherwise; on a machine where our own workers and
 * OpenBLAS's also want the cores that costs CPU for nothing, so unless the user chose a policy
 * (or an OpenMP runtime is already loaded and has read it) the runtime is loaded with
 * OMP_WAIT_POLICY=PASSIVE, which is then removed from the environment again. */
static void dnnl_open(void) {
  bool policy =
      getenv("OMP_WAIT_POLICY") == NULL && !dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (policy) setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  void *lib = dlopen(GB_DNNL_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (policy) unsetenv("OMP_WAIT_POLICY");
  if (!lib) {
    snprintf(dnnl_name, sizeof dnnl_name, "oneDNN unavailable (%s): own convolution kernels",
             dlerror());
    return;
  }
#define GB_RESOLVE(field, symbol) *(void **)&dn.field = dlsym(lib, symbol)
  GB_RESOLVE(engine_create, "dnnl_engine_create");
  GB_RESOLVE(stream_create, "dnnl_stream_create");
  GB_RESOLVE(stream_wait, "dnnl_stream_wait");
  GB_RESOLVE(md_init, "dnnl_memory_desc_init_by_tag");
  GB_RESOLVE(memory_create, "dnnl_memory_create");
  GB_RESOLVE(memory_destroy, "dnnl_memory_destroy");
  GB_RESOLVE(fwd_init, "dnnl_dilated_convolution_forward_desc_init");
  GB_RESOLVE(bwd_data_init, "dnnl_dilated_convolution_backward_data_desc_init");
  GB_RESOLVE(bwd_weights_init, "dnnl_dilated_convolution_backward_weights_desc_init");
  GB_RESOLVE(pd_create, "dnnl_primitive_desc_create");
  GB_RESOLVE(pd_destroy, "dnnl_primitive_desc_destroy");
  GB_RESOLVE(prim_create, "dnnl_primitive_create");
  GB_RESOLVE(prim_destroy, "dnnl_primitive_destroy");
  GB_RESOLVE(execute, "dnnl_primitive_execute");
  GB_RESOLVE(version, "dnnl_version");
  GB_RESOLVE(omp_set_num_threads, "omp_set_num_threads"); /* found in its dependencies */
#undef GB_RESOLVE
  bool all = dn.engine_create && dn.stream_create && dn.stream_wait && dn.md_init &&
             dn.memory_create && dn.memory_destroy && dn.fwd_init && dn.bwd_data_init &&
             dn.bwd_weights_init && dn.pd_create && dn.pd_destroy && dn.prim_create &&
             dn.prim_destroy && dn.execute && dn.version;
  if (!all) {
    snprintf(dnnl_name, sizeof dnnl_name,
             "oneDNN unavailable (%s lacks the oneDNN 2 API): own convolution kernels",
             GB_DNNL_SONAME);
    return;
  }
  if (dn.engine_create(&dn.engine, dnnl_cpu, 0) != dnnl_success ||
      dn.stream_create(&dn.stream, dn.engine, dnnl_stream_default_flags) != dnnl_success) {
    snprintf(dnnl_name, sizeof dnnl_name,
             "oneDNN unavailable (no CPU engine from %s): own convolution kernels", GB_DNNL_SONAME);
    return;
  }
  const dnnl_version_t *v = dn.version();
  snprintf(dnnl_name, sizeof dnnl_name, "oneDNN %d.%d.%d (%s)", v->major, v->minor, v->patch,
           GB_DNNL_SONAME);
  dn.ok = true;
}

const char *gb_dnnl_name(void) {
  if (!dnnl_name[0] && !dn.ok)
    return "oneDNN: not opened yet (" GB_DNNL_SONAME ", opened on the first convolution)";
  return dnnl_name;
}

/* AUTO's choice, from scripts/bench/conv_dnnl.c (CPU time, 2 threads, docs/benchmarks.md):
 * oneDNN's forward was 1.3-2x faster at every shape measured; its backward passes won only
 * with K = c*kh*kw >= 288 (1.4x), were level at 144 and lost up to 2.6x on the weight gradient
 * at small K, where our per-thread accumulation over images is cheaper. */
#define GB_DNNL_BACKWARD_MIN_K 256
/* Grouped convolutions (groups > 1) stay with our kernels under AUTO: on (32,64,28,28) with a
 * 3x3 kernel, padding 1 (CPU ms per pass, 2 threads, under load; docs/benchmarks.md) ours took
 * 4.1-5.0 against oneDNN's 8.4-8.7 depthwise (groups 64), 4.8 against 6.5-7.1 at groups 16,
 * 7.0-7.8 against 7.9-9.0 at groups 4, and forward+backward 16-21 against 42-44. */

bool gb_dnnl_wants(gb_dnnl_pass p, const gb_dnnl_conv *g) {
  int mode = atomic_load_explicit(&dnnl_mode, memory_order_relaxed);
  if (mode == GB_DNNL_OFF || (mode == GB_DNNL_AUTO && g->groups > 1)) return false;
  if (mode == GB_DNNL_AUTO && p != GB_DNNL_FORWARD &&
      g->c / g->groups * g->kh * g->kw < GB_DNNL_BACKWARD_MIN_K)
    return false;
  pthread_once(&dnnl_once, dnnl_open);
  return dn.ok;
}

/* ---- primitives, cached by pass and shape ---- */

#define GB_DNNL_CACHE 16

typedef struct cached {
  bool used;
  gb_dnnl_pass pass;
  bool bias;
  gb_dnnl_conv g;
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
} cached;

static cached cache[GB_DNNL_CACHE];
static unsigned cache_next; /* round-robin victim */

/* The memory descriptors of g's plain arrays: x nchw, w oihw (groups > 1: goihw, the same
 * bytes seen as (groups, o/groups, c/groups, kh, kw)), bias x, y nchw; false if refused. */
static bool memory_descs(const gb_dnnl_conv *g, dnnl_memory_desc_t *xm, dnnl_memory_desc_t *wm,
                         dnnl_memory_desc_t *bm, dnnl_memory_desc_t *ym) {
  dnnl_dims_t xd = {g->n, g->c, g->h, g->w}, wd = {g->o, g->c, g->kh, g->kw}, bd = {g->o},
              yd = {g->n, g->o, g->oh, g->ow},
              gwd = {g->groups, g->o / g->groups, g->c / g->groups, g->kh, g->kw};
  bool grouped = g->groups > 1;
  return !dn.md_init(xm, 4, xd, dnnl_f32, dnnl_nchw) &&
         !(grouped ? dn.md_init(wm, 5, gwd, dnnl_f32, dnnl_goihw)
                   : dn.md_init(wm, 4, wd, dnnl_f32, dnnl_oihw)) &&
         !dn.md_init(bm, 1, bd, dnnl_f32, dnnl_x) && !dn.md_init(ym, 4, yd, dnnl_f32, dnnl_nchw);
}

/* The convolution descriptor of pass p; false if oneDNN refuses it. */
static bool conv_desc(gb_dnnl_pass p, const gb_dnnl_conv *g, bool bias,
                      dnnl_convolution_desc_t *d) {
  dnnl_dims_t st = {g->sh, g->sw}, dil = {g->dh - 1, g->dw - 1}, pl = {g->ph, g->pw};
  /* the right/bottom padding that gives PyTorch's floor'ed output size */
  dnnl_dims_t pr = {(g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1 - g->h - g->ph,
                    (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1 - g->w - g->pw};
  if (pr[0] < 0 || pr[1] < 0) return false;
  dnnl_memory_desc_t xm, wm, bm, ym;
  if (!memory_descs(g, &xm, &wm, &bm, &ym)) return false;
  switch (p) {
  case GB_DNNL_FORWARD:
    return dn.fwd_init(d, dnnl_forward_training, dnnl_convolution_direct, &xm, &wm,
                       bias ? &bm : NULL, &ym, st, dil, pl, pr) == dnnl_success;
  case GB_DNNL_BACKWARD_DATA:
    return dn.bwd_data_init(d, dnnl_convolution_direct, &xm, &wm, &ym, st, dil, pl, pr) ==
           dnnl_success;
  case GB_DNNL_BACKWARD_WEIGHTS:
    return dn.bwd_weights_init(d, dnnl_convolution_direct, &xm, &wm, bias ? &bm : NULL, &ym, st,
                               dil, pl, pr) == dnnl_success;
  }
  return false;
}

/* The cached primitive of (p, g, bias), made on a miss; NULL if oneDNN refuses. Under dnnl_mu. */
static cached *primitive_for(gb_dnnl_pass p, const gb_dnnl_conv *g, bool bias) {
  for (int k = 0; k < GB_DNNL_CACHE; k++)
    if (cache[k].used && cache[k].pass == p && cache[k].bias == bias &&
        !memcmp(&cache[k].g, g, sizeof *g))
      return &cache[k];
  dnnl_convolution_desc_t d, fd;
  dnnl_primitive_desc_t hint = NULL, pd = NULL;
  dnnl_primitive_t prim = NULL;
  bool ok = conv_desc(p, g, bias, &d);
  /* a backward pass is chosen with the forward's description as its hint */
  if (ok && p != GB_DNNL_FORWARD)
    ok = conv_desc(GB_DNNL_FORWARD, g, false, &fd) &&
         dn.pd_create(&hint, &fd, NULL, dn.engine, NULL) == dnnl_success;
  ok = ok && dn.pd_create(&pd, &d, NULL, dn.engine, hint) == dnnl_success;
  ok = ok && dn.prim_create(&prim, pd) == dnnl_success;
  if (hint) dn.pd_destroy(hint);
  if (!ok) {
    if (pd) dn.pd_destroy(pd);
    return NULL;
  }
  cached *c = &cache[cache_next++ % GB_DNNL_CACHE];
  if (c->used) {
    dn.prim_destroy(c->prim);
    dn.pd_destroy(c->pd);
  }
  *c = (cached){true, p, bias, *g, pd, prim};
  return c;
}

static _Thread_local int omp_threads_set; /* OpenMP's thread count is per calling thread */

bool gb_dnnl_conv2d(gb_dnnl_pass p, const gb_dnnl_conv *g, const float *a, const float *b,
                    float *bias, float *out, int threads) {
  pthread_once(&dnnl_once, dnnl_open);
  if (!dn.ok) return false;
  if (dn.omp_set_num_threads && threads > 0 && threads != omp_threads_set) {
    dn.omp_set_num_threads(threads);
    omp_threads_set = threads;
  }
  dnnl_memory_desc_t xm, wm, bm, ym;
  if (!memory_descs(g, &xm, &wm, &bm, &ym)) return false;
  /* (argument, descriptor, pointer) per pass; oneDNN does not write through its inputs */
  struct {
    int arg;
    const dnnl_memory_desc_t *md;
    void *ptr;
  } io[4];
  int nio = 0;
  if (p == GB_DNNL_FORWARD) {
    io[nio++] = (__typeof__(io[0])){DNNL_ARG_SRC, &xm, (void *)a};
    io[nio++] = (__typeof__(io[0])){DNNL_ARG_WEIGHTS, &wm, (void *)b};
    if (bias) io[nio++] = (__typeof__(io[0])){DNNL_ARG_BIAS, &bm, (void *)bias};
    io[nio++] = (__typeof__(io[0])){DNNL_ARG_DST, &ym, out};
  } else if (p == GB_DNNL_BACKWARD_DATA) {
    io[nio++] = (__typeof__(io[0])){DNNL_ARG_DIFF_DST, &ym, (void *)a};
    io[nio++] = (__typeof__(io[0])){DNNL_ARG_WEIGHTS, &wm, (void *)b};
    io[nio++] = (__typeof__(io[0])){DNNL_ARG_DIFF_SRC, &xm, out};
  } else {
    io[nio++] = (__typeof__(io[0])){DNNL_ARG_DIFF_DST, &ym, (void *)a};
    io[nio++] = (__typeof__(io[0])){DNNL_ARG_SRC, &xm, (void *)b};
    io[nio++] = (__typeof__(io[0])){DNNL_ARG_DIFF_WEIGHTS, &wm, out};
    if (bias) io[nio++] = (__typeof__(io[0])){DNNL_ARG_DIFF_BIAS, &bm, bias};
  }
  pthread_mutex_lock(&dnnl_mu);
  cached *c = primitive_for(p, g, bias != NULL);
  dnnl_exec_arg_t args[4];
  int made = 0;
  bool ok = c != NULL;
  while (ok && made < nio) {
    args[made].arg = io[made].arg;
    if (dn.memory_create(&args[made].memory, io[made].md, dn.engine, io[made].ptr) != dnnl_success)
      ok = false;
    else
      made++;
  }
  ok = ok && dn.execute(c->prim, dn.stream, nio, args) == dnnl_success &&
       dn.stream_wait(dn.stream) == dnnl_success;
  for (int k = 0; k < made; k++)
    dn.memory_destroy(args[k].memory);
  pthread_mutex_unlock(&dnnl_mu);
  return ok;
}
#endif
