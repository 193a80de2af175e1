/* test_rowgather.c — gb_rowgather (the DataLoader's batch gather): the synchronous copy with
 * prefetching; background gathers on gb_blas's helper thread, interleaved with split products
 * that the same helper computes half of, and with two threads gathering at once; gathers
 * without a helper (one BLAS thread); a gather finished in a child of fork(). */
#define _GNU_SOURCE /* fork under -std=c11 */

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "gb_blas.h"
#include "gb_rowgather.h"

#define ROWS 3000
#define ROW_BYTES 3136 /* an MNIST image as float32 */
#define BATCH 100

static char *src;
static unsigned rng = 99u;
static unsigned next_rand(void) {
  rng = rng * 1664525u + 1013904223u;
  return rng >> 8;
}

static void fill_rows(int64_t *rows, int n) {
  for (int i = 0; i < n; i++)
    rows[i] = next_rand() % ROWS;
}

/* Rows of dst equal the chosen source rows byte for byte. */
static int bad_rows(const char *dst, const int64_t *rows, int n, size_t row_bytes) {
  int bad = 0;
  for (int i = 0; i < n; i++)
    if (memcmp(dst + (size_t)i * row_bytes, src + (size_t)rows[i] * row_bytes, row_bytes)) bad++;
  return bad;
}

static void check_copy(void) {
  int64_t rows[BATCH];
  static char dst[BATCH * ROW_BYTES];
  for (int n = 0; n <= BATCH; n += 33) {
    fill_rows(rows, n);
    memset(dst, 0, sizeof dst);
    gb_rowgather_copy(dst, src, ROW_BYTES, rows, n);
    CHECK(bad_rows(dst, rows, n, ROW_BYTES) == 0, "copy of %d rows", n);
  }
  int64_t one = 5;
  char small[8] = {0};
  gb_rowgather_copy(small, src, 3, &one, 1); /* rows narrower than a cache line */
  CHECK(memcmp(small, src + 15, 3) == 0 && small[3] == 0);
}

/* A split-size product, checked against a plain loop: the helper computes half of it. */
#define PM 128
#define PN 128
#define PK 160
static float pa[PM * PK], pb[PK * PN], pc[PM * PN], pwant[PM * PN];
static void product_setup(void) {
  for (int i = 0; i < PM * PK; i++)
    pa[i] = (float)(next_rand() % 17) * 0.125f - 1.0f;
  for (int i = 0; i < PK * PN; i++)
    pb[i] = (float)(next_rand() % 13) * 0.25f - 1.5f;
  for (int i = 0; i < PM; i++)
    for (int j = 0; j < PN; j++) {
      double s = 0;
      for (int k = 0; k < PK; k++)
        s += (double)pa[i * PK + k] * pb[k * PN + j];
      pwant[i * PN + j] = (float)s;
    }
}
static int product_bad(void) {
  gb_blas_sgemm(false, false, PM, PN, PK, 1.0f, pa, PK, pb, PN, 0.0f, pc, PN);
  int bad = 0;
  for (int i = 0; i < PM * PN; i++)
    if (!(fabsf(pc[i] - pwant[i]) <= 1e-3f * (1.0f + fabsf(pwant[i])))) bad++;
  return bad;
}

/* Gathers started ahead and finished later, `depth` in flight, with products in between. */
static int background_round(int rounds, int depth, bool products) {
  enum { MAXD = 4 };
  gb_rowgather g[MAXD];
  int64_t rows[MAXD][BATCH];
  char(*dst)[BATCH * ROW_BYTES] = malloc(sizeof *dst * MAXD);
  if (!dst) return 1;
  int bad = 0;
  for (int r = 0; r < rounds + depth; r++) {
    int s = r % depth;
    if (r >= depth) { /* finish the one started depth rounds ago */
      gb_rowgather_finish(&g[s]);
      bad += bad_rows(dst[s], rows[s], BATCH, ROW_BYTES);
    }
    if (r < rounds) {
      fill_rows(rows[s], BATCH);
      memset(dst[s], 0, sizeof dst[s]);
      memset(&g[s], 0, sizeof g[s]);
      g[s].dst = dst[s];
      g[s].src = src;
      g[s].row_bytes = ROW_BYTES;
      g[s].rows = rows[s];
      g[s].n = BATCH;
      gb_rowgather_start(&g[s]);
    }
    if (products && product_bad()) bad++;
    if (r % 7 == 3) usleep(200); /* let the helper get ahead sometimes */
  }
  free(dst);
  return bad;
}

static void *second_gatherer(void *arg) {
  *(int *)arg = background_round(40, 2, false);
  return NULL;
}

static void check_background(void) {
  gb_blas_set_threads(2);
  { /* left alone, the helper copies a whole gather by itself */
    gb_rowgather g;
    int64_t rows[BATCH];
    static char dst[BATCH * ROW_BYTES];
    fill_rows(rows, BATCH);
    memset(&g, 0, sizeof g);
    g.dst = dst;
    g.src = src;
    g.row_bytes = ROW_BYTES;
    g.rows = rows;
    g.n = BATCH;
    int64_t before = gb_rowgather_helper_rows();
    gb_rowgather_start(&g);
    for (int i = 0; i < 20000 && atomic_load(&g.finished) < BATCH; i++)
      usleep(500); /* up to 10 s on a loaded machine */
    CHECK(gb_rowgather_helper_rows() - before == BATCH, "the helper copied %lld of %d rows",
          (long long)(gb_rowgather_helper_rows() - before), BATCH);
    gb_rowgather_finish(&g);
    CHECK(bad_rows(dst, rows, BATCH, ROW_BYTES) == 0);
  }
  CHECK(background_round(60, 1, true) == 0, "one gather in flight, with split products");
  CHECK(background_round(60, 3, true) == 0, "three gathers in flight, with split products");
  int other = -1;
  pthread_t t;
  CHECK(pthread_create(&t, NULL, second_gatherer, &other) == 0);
  int mine = background_round(40, 2, true);
  pthread_join(t, NULL);
  CHECK(mine == 0 && other == 0, "two threads gathering: %d and %d bad", mine, other);
  gb_blas_set_threads(1); /* no helper: finishing does all the work */
  CHECK(background_round(20, 2, true) == 0, "gathers with one BLAS thread");
  gb_blas_set_threads(0);
  /* an empty gather finishes at once */
  gb_rowgather e;
  memset(&e, 0, sizeof e);
  e.src = src;
  e.row_bytes = ROW_BYTES;
  gb_rowgather_start(&e);
  gb_rowgather_finish(&e);
  CHECK(atomic_load(&e.finished) == 0);
}

/* Started in the parent, finished in a child of fork(): the child has no helper. */
static void check_fork(void) {
  gb_blas_set_threads(2);
  (void)product_bad(); /* the helper is running */
  gb_rowgather g;
  int64_t rows[BATCH];
  static char dst[BATCH * ROW_BYTES];
  fill_rows(rows, BATCH);
  memset(&g, 0, sizeof g);
  g.dst = dst;
  g.src = src;
  g.row_bytes = ROW_BYTES;
  g.rows = rows;
  g.n = BATCH;
  gb_rowgather_start(&g);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    gb_rowgather_finish(&g);
    _exit(bad_rows(dst, rows, BATCH, ROW_BYTES) == 0 && background_round(10, 2, true) == 0 ? 0 : 1);
  }
  gb_rowgather_finish(&g);
  CHECK(bad_rows(dst, rows, BATCH, ROW_BYTES) == 0, "gather finished in the parent");
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "gather in a forked child (status %d)",
        status);
  gb_blas_set_threads(0);
}

int main(void) {
  src = malloc((size_t)ROWS * ROW_BYTES);
  if (!src) return 2;
  for (size_t i = 0; i < (size_t)ROWS * ROW_BYTES; i++)
    src[i] = (char)(next_rand() & 0xff);
  product_setup();
  check_copy();
  check_background();
  check_fork();
  free(src);
  printf("test_rowgather: %d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
