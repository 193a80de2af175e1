/* gb_hooks.c — gradient hooks for the tape: a hooked tensor carries a small id (on its node
 * when it is a non-leaf, on itself when a leaf); backward hands the hooked gradient to the
 * host's callback (a leaf's once, summed, at the end). Steps without hooks pay one branch per
 * node. */
#include <stdlib.h>

#include "gb_state.h"

void gb_hooks_set_callback(gb_state *S, gb_grad_hook_fn fn, void *ud) {
  S->hook_fn = fn;
  S->hook_ud = ud;
}

uint32_t gb_hooks_attach(gb_state *S, gb_tensor *t) {
  if (!t->requires_grad) return 0;
  uint32_t *slot = t->grad_fn ? &t->grad_fn->hook : &t->hook;
  if (!*slot) {
    if (++S->hook_seq == 0) S->hook_seq = 1; /* 0 means "no hook" */
    *slot = S->hook_seq;
  }
  return *slot;
}

gb_status gb_hooks_run(gb_state *S, uint32_t id, gb_tensor **grad) {
  if (!S->hook_fn || !*grad) return GB_OK;
  return S->hook_fn(S, S->hook_ud, id, grad);
}

void gb_hooks_dead(gb_state *S, uint32_t id) {
  if (S->ndead_hooks == S->cap_dead_hooks) {
    int cap = S->cap_dead_hooks ? 2 * S->cap_dead_hooks : 64;
    uint32_t *v = realloc(S->dead_hooks, (size_t)cap * sizeof *v);
    if (!v) return; /* the host keeps a few dead functions: harmless */
    S->dead_hooks = v;
    S->cap_dead_hooks = cap;
  }
  S->dead_hooks[S->ndead_hooks++] = id;
}

int gb_hooks_take_dead(gb_state *S, uint32_t *ids, int cap) {
  int n = S->ndead_hooks < cap ? S->ndead_hooks : cap;
  for (int i = 0; i < n; i++)
    ids[i] = S->dead_hooks[S->ndead_hooks - 1 - i];
  S->ndead_hooks -= n;
  return n;
}

gb_status gb_hooks_pending_push(gb_state *S, gb_tensor *leaf) {
  if (S->nhook_leaves == S->cap_hook_leaves) {
    int cap = S->cap_hook_leaves ? 2 * S->cap_hook_leaves : 16;
    gb_tensor **v = realloc(S->hook_leaves, (size_t)cap * sizeof *v);
    if (!v) return gb_errorf(S, GB_EOOM, "out of memory: backward (gradient hooks)");
    S->hook_leaves = v;
    S->cap_hook_leaves = cap;
  }
  gb_tensor_retain(leaf);
  S->hook_leaves[S->nhook_leaves++] = leaf;
  return GB_OK;
}

gb_tensor *gb_hooks_pending_pop(gb_state *S) {
  return S->nhook_leaves ? S->hook_leaves[--S->nhook_leaves] : NULL;
}
