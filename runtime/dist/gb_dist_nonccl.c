/* gb_dist_nonccl.c — the NCCL part of the distributed plugin in a build without nccl.h:
 * CUDA tensors are refused with the reason. */
#include "gb_dist_impl.h"

static int no_nccl(const char *what, char *err, size_t cap) {
  return gb_dist_fail(err, cap,
                      "distributed: %s: cuda tensors need NCCL, and this libgpubp_dist.so was "
                      "built without it (nccl.h was not found); copy the tensor to the cpu",
                      what);
}

bool gb_dist_nccl_built(void) {
  return false;
}
const char *gb_dist_nccl_version(void) {
  return "";
}
int gb_dist_nccl_all_reduce(gb_dist_buf *b, gb_dist_op op, const char *what, char *err,
                            size_t cap) {
  (void)b;
  (void)op;
  return no_nccl(what, err, cap);
}
int gb_dist_nccl_broadcast(gb_dist_buf *b, int root, const char *what, char *err, size_t cap) {
  (void)b;
  (void)root;
  return no_nccl(what, err, cap);
}
int gb_dist_nccl_all_gather(const gb_dist_buf *in, void *out, const char *what, char *err,
                            size_t cap) {
  (void)in;
  (void)out;
  return no_nccl(what, err, cap);
}
void gb_dist_nccl_watch(double now) {
  (void)now;
}
void gb_dist_nccl_finalize(bool broken) {
  (void)broken;
}
