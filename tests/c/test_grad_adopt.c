/* test_grad_adopt.c — the tape hands a leaf the gradient buffer its last backward rule made,
 * without a copy, whenever nothing else holds it: a Linear's weight, used through w:t(),
 * receives its product's output (the transposed view of a transposed result) as .grad. The
 * peak of the cpu allocator during backward shows it (a copy would add a second weight-sized
 * buffer), and the values are the hand-computed dL/dW. A gradient shared by two leaves
 * (d(a+b)) must still give each its own buffer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "gb_cpu.h"
#include "gb_fn.h"
#include "gb_state.h"

static gb_tensor *make(gb_state *S, int nd, const int64_t *shape) {
  gb_tensor *t;
  if (gb_tensor_empty(S, nd, shape, GB_F32, GB_CPU, &t)) abort();
  return t;
}

/* loss = sum(addmm(b, x, w^T)), w (O,I), x (B,I): dL/dw[o][i] = sum_b x[b][i], dL/db = B */
static void check_linear_weight(gb_state *S) {
  enum { B = 4, I = 512, O = 256 };
  gb_tensor *w = make(S, 2, (int64_t[]){O, I}), *b = make(S, 1, (int64_t[]){O});
  gb_tensor *x = make(S, 2, (int64_t[]){B, I});
  float *wp = gb_tensor_f32(w), *xp = gb_tensor_f32(x), *bp = gb_tensor_f32(b);
  for (int k = 0; k < O * I; k++)
    wp[k] = (float)sin(0.01 * k);
  for (int k = 0; k < B * I; k++)
    xp[k] = (float)((k % 7) - 3) * 0.25f;
  for (int k = 0; k < O; k++)
    bp[k] = 0.5f;
  w->requires_grad = b->requires_grad = true;
  for (int pass = 0; pass < 2; pass++) { /* the second pass accumulates: .grad = 2 dL/dw */
    gb_tensor *wt, *y, *loss, *outs[2] = {NULL, NULL};
    CHECK(gb_fn_transpose(S, w, 0, 1, &wt) == GB_OK, "%s", gb_state_error(S));
    gb_opargs a = {.in = {b, x, wt}, .nin = 3, .f = {1.0, 1.0}};
    CHECK(gb_op_run(S, GB_OP_ADDMM, &a, outs) == GB_OK, "addmm: %s", gb_state_error(S));
    y = outs[0];
    CHECK(gb_fn_reduce(S, GB_OP_SUM, y, 0, false, &loss) == GB_OK, "%s", gb_state_error(S));
    int64_t before = S->cpu.allocated;
    S->cpu.peak = before;
    CHECK(gb_backward(S, loss, NULL, false) == GB_OK, "backward: %s", gb_state_error(S));
    int64_t rise = S->cpu.peak - before, wbytes = (int64_t)O * I * sizeof(float);
    /* the first pass makes the product and keeps it; the second adds a new one into it */
    CHECK(rise < wbytes + wbytes / 4,
          "pass %d: the allocator rose by %lld bytes during backward, expected one weight-sized "
          "gradient (%lld bytes) and small ones: the weight's gradient was copied",
          pass, (long long)rise, (long long)wbytes);
    CHECK(w->grad && w->grad->storage->refcount == 1 && gb_tensor_is_contiguous(w->grad),
          "pass %d: the weight's .grad is not a contiguous tensor owning its storage", pass);
    double worst = 0;
    for (int o = 0; w->grad && o < O; o++)
      for (int i = 0; i < I; i++) {
        double want = 0;
        for (int r = 0; r < B; r++)
          want += xp[r * I + i];
        want *= pass + 1;
        double got = gb_tensor_f32(w->grad)[o * I + i];
        if (fabs(got - want) > worst) worst = fabs(got - want);
      }
    CHECK(worst <= 1e-6, "pass %d: dL/dw off by %g", pass, worst);
    for (int o = 0; b->grad && o < O; o++)
      CHECK(gb_tensor_f32(b->grad)[o] == (float)(B * (pass + 1)), "pass %d: dL/db[%d] = %g", pass,
            o, gb_tensor_f32(b->grad)[o]);
    gb_tensor_release(S, loss);
    gb_tensor_release(S, y);
    gb_tensor_release(S, wt);
  }
  gb_tensor_release(S, w);
  gb_tensor_release(S, b);
  gb_tensor_release(S, x);
}

/* loss = sum(p + q): both leaves get the same incoming gradient; each must own a buffer */
static void check_shared_gradient(gb_state *S) {
  enum { N = 1000 };
  gb_tensor *p = make(S, 1, (int64_t[]){N}), *q = make(S, 1, (int64_t[]){N});
  for (int k = 0; k < N; k++)
    gb_tensor_f32(p)[k] = (float)k, gb_tensor_f32(q)[k] = (float)-k;
  p->requires_grad = q->requires_grad = true;
  gb_tensor *s, *loss;
  CHECK(gb_fn_binary(S, GB_OP_ADD, p, q, &s) == GB_OK, "%s", gb_state_error(S));
  CHECK(gb_fn_reduce(S, GB_OP_SUM, s, 0, false, &loss) == GB_OK, "%s", gb_state_error(S));
  CHECK(gb_backward(S, loss, NULL, false) == GB_OK, "backward: %s", gb_state_error(S));
  CHECK(p->grad && q->grad && p->grad->storage != q->grad->storage,
        "p and q share one gradient buffer");
  if (p->grad && q->grad) {
    gb_tensor_f32(p->grad)[0] = 5.0f; /* one leaf's gradient changed in place */
    CHECK(gb_tensor_f32(q->grad)[0] == 1.0f, "q.grad[0] = %g after p.grad was changed",
          gb_tensor_f32(q->grad)[0]);
    for (int k = 1; k < N; k++)
      CHECK(gb_tensor_f32(p->grad)[k] == 1.0f && gb_tensor_f32(q->grad)[k] == 1.0f,
            "d sum(p+q) [%d] = %g, %g", k, gb_tensor_f32(p->grad)[k], gb_tensor_f32(q->grad)[k]);
  }
  gb_tensor_release(S, loss);
  gb_tensor_release(S, s);
  gb_tensor_release(S, p);
  gb_tensor_release(S, q);
}

int main(void) {
  gb_cpu_backend_register();
  gb_state *S = gb_state_new();
  check_linear_weight(S);
  check_shared_gradient(S);
  gb_memstats m;
  gb_state_memstats(S, GB_CPU, &m);
  CHECK(m.allocated == 0, "%lld bytes still allocated", (long long)m.allocated);
  gb_state_free(S);
  printf("test_grad_adopt: %d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
