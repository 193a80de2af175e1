/* gb_cpu_iter.c — the walk over the strided N-d iterator (core/gb_iter.c) behind every CPU
 * elementwise kernel. Coalescing turns same-shaped contiguous operands into one flat row, so
 * the common case runs a single tight loop. */

#include "gb_cpu.h"
#include "gb_cpu_pool.h"

typedef struct iter_job {
  const gb_iter *it;
  gb_row_fn row;
  const gb_opargs *a;
} iter_job;

/* Elements [lo, hi) in row-major order over the iterator: the pieces of inner rows they
 * cover. Runs on helper threads: no stop checks here (the caller checks after). */
static void iter_range(void *ctx, int64_t lo, int64_t hi) {
  const iter_job *j = ctx;
  const gb_iter *it = j->it;
  int inner = it->ndim - 1;
  int64_t n = it->shape[inner], r = lo / n, k = lo % n, s[GB_ITER_MAXOP];
  char *p[GB_ITER_MAXOP];
  for (int q = 0; q < it->nop; q++)
    s[q] = it->stride[q][inner];
  while (lo < hi) {
    int64_t rest = r, off[GB_ITER_MAXOP] = {0};
    for (int d = inner - 1; d >= 0; d--) {
      int64_t c = rest % it->shape[d];
      rest /= it->shape[d];
      for (int q = 0; q < it->nop; q++)
        off[q] += c * it->stride[q][d];
    }
    for (int q = 0; q < it->nop; q++)
      p[q] = it->base[q] + (off[q] + k * s[q]) * (int64_t)it->esize[q];
    int64_t m = n - k < hi - lo ? n - k : hi - lo;
    j->row(m, p, s, j->a);
    lo += m, r++, k = 0;
  }
}

void gb_iter_run(gb_state *S, const gb_iter *it, gb_row_fn row, const gb_opargs *a) {
  int nd = it->ndim, inner = nd - 1;
  int64_t total = 1;
  for (int d = 0; d < nd; d++) {
    if (it->shape[d] == 0) return;
    total *= it->shape[d];
  }
  /* large loops: chunks of the flat element range on the pool (every row is elementwise,
   * so any split gives the same bits); a stop already asked for takes the serial walk, which
   * ends after its first GB_STOP_CHUNK elements */
  if (total >= GB_PAR_MIN_ELEMS && gb_cpu_par_threads() > 1 && !gb_should_stop(S)) {
    iter_job j = {it, row, a};
    gb_cpu_parallel(S, total, GB_PAR_GRAIN, iter_range, &j);
    return;
  }
  int64_t idx[GB_MAXDIM] = {0};
  int64_t s[GB_ITER_MAXOP], since = 0, n = it->shape[inner];
  char *p[GB_ITER_MAXOP];
  for (int k = 0; k < it->nop; k++)
    s[k] = it->stride[k][inner];
  for (;;) {
    for (int k = 0; k < it->nop; k++) {
      int64_t off = 0;
      for (int d = 0; d < inner; d++)
        off += idx[d] * it->stride[k][d];
      p[k] = it->base[k] + off * (int64_t)it->esize[k];
    }
    /* rows run in chunks of GB_STOP_CHUNK; between chunks, an interrupt stops the loop */
    for (int64_t done = 0; done < n;) {
      int64_t m = n - done < GB_STOP_CHUNK ? n - done : GB_STOP_CHUNK;
      row(m, p, s, a);
      done += m;
      since += m;
      if (since >= GB_STOP_CHUNK) {
        since = 0;
        if (gb_should_stop(S)) return;
      }
      for (int k = 0; done < n && k < it->nop; k++)
        p[k] += m * s[k] * (int64_t)it->esize[k];
    }
    int d = inner - 1;
    for (; d >= 0; d--) {
      if (++idx[d] < it->shape[d]) break;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}
