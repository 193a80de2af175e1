/* gb_sort.h — the ordering of sort and topk, written once for both compilers (GB_HD, as
 * gb_math.h): a stable bottom-up merge sort of one strided line of (value, index) pairs.
 * NaN counts as larger than every number (last ascending, first descending), ties keep
 * their order, so the result is deterministic and matches torch.sort(stable=True). The
 * CPU kernels (cpu/gb_cpu_sort.c) and the CUDA kernels (gpu/gb_cuda_sort.cu) call it. */
#ifndef GB_SORT_H
#define GB_SORT_H

#include <stdbool.h>

#include "gb_math.h"

/* Does (va, ia) come before (vb, ib)? */
GB_HD bool gb_sort_before(float va, int64_t ia, float vb, int64_t ib, bool desc) {
  bool na = va != va, nb = vb != vb;
  if (na != nb) return desc ? na : nb; /* NaN is the largest */
  if (!na && va != vb) return desc ? va > vb : va < vb;
  return ia < ib;
}

/* Sorts n pairs v[k*st], ix[k*st] (k < n) in place, using tv/ti (the same layout) as
 * scratch. */
GB_HD void gb_sort_line(float *v, int64_t *ix, float *tv, int64_t *ti, int64_t n, int64_t st,
                        bool desc) {
  float *sv = v, *dv = tv;
  int64_t *si = ix, *di = ti;
  for (int64_t w = 1; w < n; w *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * w) {
      int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      int64_t a = lo, b = mid;
      for (int64_t k = lo; k < hi; k++) {
        bool take_b = a >= mid || (b < hi && gb_sort_before(sv[b * st], si[b * st], sv[a * st],
                                                            si[a * st], desc));
        int64_t from = take_b ? b++ : a++;
        dv[k * st] = sv[from * st];
        di[k * st] = si[from * st];
      }
    }
    float *t = sv;
    sv = dv, dv = t;
    int64_t *u = si;
    si = di, di = u;
  }
  if (sv != v)
    for (int64_t k = 0; k < n; k++) {
      v[k * st] = sv[k * st];
      ix[k * st] = si[k * st];
    }
}

#endif
