/* gb_anydevice.c — the "kernels" of rows that work on every device without a kernel of
 * their own: views (the core builds the view; the kernel is never called) and pad (fill,
 * narrow and copy through the device's own rows). Every backend's table names them, so they
 * live in the core rather than in cpu/ (the CUDA plugin links the core only). */
#include "gb_kernels.h"
#include "gb_state.h"

/* pad on any device: the backends' fill and copy through a narrow view of the output */
gb_status gb_pad_kernel(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  gb_opargs fill = {.f = {0.0}};
  gb_status st = gb_op_run_into(S, GB_OP_FILL, &fill, out[0]);
  if (st) return st;
  gb_opargs na = {.in = {out[0]}, .nin = 1, .i = {a->i[0], a->i[1], a->in[0]->shape[a->i[0]]}};
  gb_tensor *part;
  bool was = gb_set_grad_enabled(S, false);
  if (!(st = gb_op_run(S, GB_OP_NARROW, &na, &part))) {
    gb_opargs cp = {.in = {a->in[0]}, .nin = 1, .i = {part->dtype}};
    st = gb_op_run_into(S, GB_OP_COPY, &cp, part);
    gb_tensor_release(S, part);
  }
  gb_set_grad_enabled(S, was);
  return st;
}

gb_status gb_view_kernel(gb_state *S, const gb_opargs *a, gb_tensor **out) {
  return gb_errorf(S, GB_EARG, "view rows have no kernel");
}
