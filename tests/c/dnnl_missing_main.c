/* dnnl_missing_main.c — the conv2d rows without oneDNN: built (tests/CMakeLists.txt) with
 * runtime/cpu/gb_dnnl.c compiled again, GB_DNNL_SONAME naming a file that does not exist (as
 * on an install whose libdnnl was removed), in place of the core's copy. gb_dnnl says why it
 * is unavailable, and forward, input and weight gradients asked of oneDNN ('always') come out
 * of the own kernels bit for bit as with oneDNN switched off. */
#include <string.h>

#include "check.h"
#include "gb_cpu.h"
#include "gb_dnnl.h"
#include "gb_state.h"

static gb_tensor *filled(gb_state *S, int nd, const int64_t *shape, float a) {
  gb_tensor *t;
  if (gb_tensor_empty(S, nd, shape, GB_F32, GB_CPU, &t)) return NULL;
  for (int64_t i = 0; i < t->numel; i++)
    gb_tensor_f32(t)[i] = (float)((i * 37 % 101) - 50) * a;
  return t;
}

/* the three rows of one 32 -> 16 channel 3x3 layer (K = 288: oneDNN's side for every pass) */
static void run_rows(gb_state *S, gb_tensor **out) {
  gb_tensor *x = filled(S, 4, (int64_t[]){2, 32, 6, 5}, 0.01f);
  gb_tensor *w = filled(S, 4, (int64_t[]){16, 32, 3, 3}, 0.02f);
  gb_tensor *b = filled(S, 1, (int64_t[]){16}, 0.1f);
  gb_tensor *g = filled(S, 4, (int64_t[]){2, 16, 6, 5}, 0.03f);
  gb_opargs f = {.in = {x, w, b}, .nin = 3, .i = {3, 3, 1, 1, 1, 1}};
  gb_opargs bi = {.in = {g, w}, .nin = 2, .i = {3, 3, 1, 1, 1, 1, 6, 5}};
  gb_opargs bw = {.in = {g, x}, .nin = 2, .i = {3, 3, 1, 1, 1, 1}};
  CHECK(gb_op_run(S, GB_OP_CONV2D, &f, &out[0]) == GB_OK, "%s", gb_state_error(S));
  CHECK(gb_op_run(S, GB_OP_CONV2D_BACKWARD_INPUT, &bi, &out[1]) == GB_OK, "%s", gb_state_error(S));
  CHECK(gb_op_run(S, GB_OP_CONV2D_BACKWARD_WEIGHT, &bw, &out[2]) == GB_OK, "%s", gb_state_error(S));
  gb_tensor *all[] = {x, w, b, g};
  for (int k = 0; k < 4; k++)
    gb_tensor_release(S, all[k]);
}

int main(void) {
  gb_cpu_backend_register();
  gb_state *S = gb_state_new();
  gb_tensor *own[3] = {NULL}, *asked[3] = {NULL};
  gb_dnnl_set_mode(GB_DNNL_OFF);
  run_rows(S, own);
  gb_dnnl_set_mode(GB_DNNL_ALWAYS);
  gb_dnnl_conv d = {1, 32, 4, 4, 16, 3, 3, 4, 4, 1, 1, 1, 1, 1, 1, 1};
  CHECK(!gb_dnnl_wants(GB_DNNL_FORWARD, &d), "oneDNN wanted although missing");
  CHECK(strstr(gb_dnnl_name(), "unavailable") != NULL, "name: %s", gb_dnnl_name());
  CHECK(strstr(gb_dnnl_name(), "libgpubp-no-such-dnnl") != NULL, "name: %s", gb_dnnl_name());
  run_rows(S, asked);
  for (int k = 0; k < 3; k++) {
    CHECK(own[k] && asked[k] && own[k]->numel == asked[k]->numel, "row %d", k);
    if (own[k] && asked[k])
      CHECK(!memcmp(gb_tensor_f32(own[k]), gb_tensor_f32(asked[k]),
                    (size_t)own[k]->numel * sizeof(float)),
            "row %d differs", k);
    gb_tensor_release(S, own[k]);
    gb_tensor_release(S, asked[k]);
  }
  gb_state_free(S);
  return failures ? 1 : 0;
}
