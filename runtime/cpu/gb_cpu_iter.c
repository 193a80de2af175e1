/* gb_cpu_iter.c — the walk over the strided N-d iterator (core/gb_iter.c) behind every CPU
 * elementwise kernel. Coalescing turns same-shaped contiguous operands into one flat row, so
 * the common case runs a single tight loop. */

#include "gb_cpu.h"

void gb_iter_run(gb_state *S, const gb_iter *it, gb_row_fn row, const gb_opargs *a) {
  int nd = it->ndim, inner = nd - 1;
  for (int d = 0; d < nd; d++)
    if (it->shape[d] == 0) return;
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
