/* test_fast_math.c — gb_math.h's branch-free exp, expm1, tanh and sigmoid (what the softmax,
 * attention, GELU and the recurrent cells run) against libm in double: the error in ulps of the
 * float result over every 257th float in [-100, 100] (about 8 million values, zero and the
 * denormals included), and the special values (NaN, infinities, signed zero, saturation). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "gb_math.h"

/* |got - want| in units of the float spacing at want (the smallest normal's below it) */
static double ulps(float got, double want) {
  if (isnan(want)) return isnan(got) ? 0.0 : INFINITY;
  float w = (float)fabs(want);
  double u = w < 1.17549435e-38f ? 1.17549435e-38 * 0x1p-23 : nextafterf(w, INFINITY) - w;
  return fabs((double)got - want) / u;
}

typedef struct {
  const char *name;
  double worst, at;
} worst_case;

static void note(worst_case *w, float x, float got, double want) {
  double e = ulps(got, want);
  if (e > w->worst) w->worst = e, w->at = x;
}

static float from_bits(uint32_t b) {
  float x;
  memcpy(&x, &b, sizeof x);
  return x;
}

static void sweep(void) {
  worst_case e = {"exp_fast", 0, 0}, m = {"expm1_fast", 0, 0}, t = {"tanh_fast", 0, 0},
             s = {"sigmoid_fast", 0, 0};
  uint32_t top = 0x42C80000u; /* 100.0f */
  for (int neg = 0; neg < 2; neg++)
    for (uint32_t b = 0; b <= top; b += 257) {
      float x = from_bits(b | (neg ? 0x80000000u : 0u));
      double xd = x;
      if (x > -87.0f && x < 88.0f) note(&e, x, gb_f_exp_fast(x), exp(xd));
      if (x > -87.0f && x < 88.0f) note(&m, x, gb_f_expm1_fast(x), expm1(xd));
      note(&t, x, gb_f_tanh_fast(x), tanh(xd));
      if (x > -87.0f) note(&s, x, gb_f_sigmoid_fast(x), 1.0 / (1.0 + exp(-xd)));
    }
  const worst_case *all[] = {&e, &m, &t, &s};
  for (int k = 0; k < 4; k++) {
    CHECK(all[k]->worst <= 3.0, "%s: %.2f ulp at %.9g", all[k]->name, all[k]->worst, all[k]->at);
    printf("%-12s max error %.2f ulp (at %.9g)\n", all[k]->name, all[k]->worst, all[k]->at);
  }
}

static void specials(void) {
  CHECK(isnan(gb_f_tanh_fast(NAN)) && isnan(gb_f_sigmoid_fast(NAN)));
  CHECK(isnan(gb_f_expm1_fast(NAN)) && isnan(gb_f_exp_fast(NAN)));
  CHECK(gb_f_tanh_fast(INFINITY) == 1.0f && gb_f_tanh_fast(-INFINITY) == -1.0f);
  CHECK(gb_f_tanh_fast(10.0f) == 1.0f && gb_f_tanh_fast(-1e30f) == -1.0f);
  CHECK(gb_f_tanh_fast(0.0f) == 0.0f && !signbit(gb_f_tanh_fast(0.0f)));
  CHECK(gb_f_tanh_fast(-0.0f) == 0.0f && signbit(gb_f_tanh_fast(-0.0f)));
  CHECK(gb_f_tanh_fast(1e-30f) == 1e-30f, "tanh(1e-30) = %g", gb_f_tanh_fast(1e-30f));
  CHECK(gb_f_sigmoid_fast(INFINITY) == 1.0f && gb_f_sigmoid_fast(-INFINITY) == 0.0f);
  CHECK(gb_f_sigmoid_fast(0.0f) == 0.5f && gb_f_sigmoid_fast(20.0f) == 1.0f);
  CHECK(gb_f_sigmoid_fast(-100.0f) >= 0.0f && gb_f_sigmoid_fast(-100.0f) < 1e-37f);
  CHECK(gb_f_expm1_fast(-INFINITY) == -1.0f && gb_f_expm1_fast(-100.0f) == -1.0f);
  CHECK(gb_f_expm1_fast(INFINITY) == INFINITY && gb_f_expm1_fast(89.0f) == INFINITY);
  CHECK(gb_f_expm1_fast(1e-30f) == 1e-30f && gb_f_expm1_fast(0.0f) == 0.0f);
  CHECK(gb_f_exp_fast(-INFINITY) == 0.0f && gb_f_exp_fast(INFINITY) == INFINITY);
}

int main(void) {
  sweep();
  specials();
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
