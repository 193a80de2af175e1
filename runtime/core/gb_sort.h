/* gb_sort.h — the ordering of sort and topk, written once for both compilers (GB_HD, as
 * gb_math.h) and both float dtypes: a stable bottom-up merge sort of one strided line of
 * (value, index) pairs. NaN counts as larger than every number (last ascending, first
 * descending), ties keep their order, so the result is deterministic and matches
 * torch.sort(stable=True). GB_SORT_FORMULAS(T, P) is expanded for float (gb_f_sort_line) and
 * double (gb_d_sort_line); the CPU kernels (cpu/gb_cpu_sort.c) and the CUDA kernels
 * (gpu/gb_cuda_sort.cu) call them. */
#ifndef GB_SORT_H
#define GB_SORT_H

#include <stdbool.h>

#include "gb_math.h"

/* P##sort_before: does (va, ia) come before (vb, ib)? P##sort_line: sorts n pairs v[k*st],
 * ix[k*st] (k < n) in place, using tv/ti (the same layout) as scratch. */
#define GB_SORT_FORMULAS(T, P)                                                                     \
  GB_HD bool P##sort_before(T va, int64_t ia, T vb, int64_t ib, bool desc) {                       \
    bool na = va != va, nb = vb != vb;                                                             \
    if (na != nb) return desc ? na : nb; /* NaN is the largest */                                  \
    if (!na && va != vb) return desc ? va > vb : va < vb;                                          \
    return ia < ib;                                                                                \
  }                                                                                                \
  GB_HD void P##sort_line(T *v, int64_t *ix, T *tv, int64_t *ti, int64_t n, int64_t st,            \
                          bool desc) {                                                             \
    T *sv = v, *dv = tv;                                                                           \
    int64_t *si = ix, *di = ti;                                                                    \
    for (int64_t w = 1; w < n; w *= 2) {                                                           \
      for (int64_t lo = 0; lo < n; lo += 2 * w) {                                                  \
        int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;               \
        int64_t a = lo, b = mid;                                                                   \
        for (int64_t k = lo; k < hi; k++) {                                                        \
          bool take_b = a >= mid || (b < hi && P##sort_before(sv[b * st], si[b * st], sv[a * st],  \
                                                              si[a * st], desc));                  \
          int64_t from = take_b ? b++ : a++;                                                       \
          dv[k * st] = sv[from * st];                                                              \
          di[k * st] = si[from * st];                                                              \
        }                                                                                          \
      }                                                                                            \
      T *t = sv;                                                                                   \
      sv = dv, dv = t;                                                                             \
      int64_t *u = si;                                                                             \
      si = di, di = u;                                                                             \
    }                                                                                              \
    if (sv != v)                                                                                   \
      for (int64_t k = 0; k < n; k++) {                                                            \
        v[k * st] = sv[k * st];                                                                    \
        ix[k * st] = si[k * st];                                                                   \
      }                                                                                            \
  }

GB_SORT_FORMULAS(float, gb_f_)
GB_SORT_FORMULAS(double, gb_d_)

#endif
