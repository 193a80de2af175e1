/* gb_tape.c — autograd. Each op on tensors that need grad records a node (op, inputs, an
 * alias of its output, its parameters). Backward gathers the nodes reachable from the root,
 * replays them newest-first through each row's backward rule, and accumulates gradients:
 * into the producing node for intermediate tensors, into ->grad for leaves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb_fn.h"
#include "gb_state.h"

bool gb_grad_enabled(const gb_state *S) {
  return S->grad_enabled;
}

bool gb_set_grad_enabled(gb_state *S, bool on) {
  bool was = S->grad_enabled;
  S->grad_enabled = on;
  return was;
}

gb_status gb_tape_record(gb_state *S, gb_opid id, const gb_opargs *a, gb_tensor *out,
                         gb_tensor *out1) {
  gb_node *n = S->free_nodes;
  if (n) {
    S->free_nodes = n->next_free;
    S->nfree_nodes--;
  } else if (!(n = malloc(sizeof *n)))
    return gb_errorf(S, GB_EOOM, "out of memory: tape node");
  memset(n, 0, sizeof *n);
  n->refcount = 1; /* held by out->grad_fn */
  n->op = id;
  n->seq = ++S->node_seq;
  n->args = *a;
  for (int k = 0; k < a->nin; k++) {
    gb_tensor_retain(a->in[k]);
    n->version[k] = a->in[k]->storage->version;
  }
  n->version[GB_MAXIN] = out->storage->version;
  n->out = gb_tensor_alias(S, out);
  if (out1) {
    n->version[GB_MAXIN + 1] = out1->storage->version;
    n->out1 = gb_tensor_alias(S, out1);
  }
  S->graph_nodes++;
  if (!n->out || (out1 && !n->out1)) {
    gb_node_release(S, n); /* releases the inputs and whichever alias was made */
    return gb_errorf(S, GB_EOOM, "out of memory: tape node");
  }
  out->requires_grad = true;
  out->grad_fn = n;
  return GB_OK;
}

/* Drop what the node holds for backward (inputs and saved outputs). */
static void node_free_saved(gb_state *S, gb_node *n) {
  if (n->freed) return;
  n->freed = true;
  S->graph_nodes--;
  for (int k = 0; k < n->args.nin; k++)
    gb_tensor_release(S, n->args.in[k]);
  gb_tensor_release(S, n->out);
  gb_tensor_release(S, n->out1);
  n->out = NULL;
  n->out1 = NULL;
}

/* Releasing a node's inputs can release their nodes in turn. A graph can be a chain of
 * millions of nodes (`total = total + loss` over a long run), so the nodes whose last
 * reference went wait in S->release_queue and one loop frees them: the C stack stays flat. */
void gb_node_release(gb_state *S, gb_node *n) {
  if (--n->refcount > 0) return;
  n->next_free = S->release_queue;
  S->release_queue = n;
  if (S->releasing) return; /* the loop below, further up the stack, will take it */
  S->releasing = true;
  while ((n = S->release_queue) != NULL) {
    S->release_queue = n->next_free;
    node_free_saved(S, n);
    gb_tensor_release(S, n->gacc);
    if (n->hook) gb_hooks_dead(S, n->hook);
    if (S->nfree_nodes >= GB_FREE_KEEP) {
      free(n);
      continue;
    }
    n->next_free = S->free_nodes;
    S->free_nodes = n;
    S->nfree_nodes++;
  }
  S->releasing = false;
}

/* ---- backward ------------------------------------------------------------------------- */

typedef struct node_list {
  gb_node **v;
  size_t n, cap;
} node_list;

static gb_status list_push(gb_state *S, node_list *l, gb_node *n) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    gb_node **v = realloc(l->v, cap * sizeof *v);
    if (!v) return gb_errorf(S, GB_EOOM, "out of memory: backward");
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = n;
  return GB_OK;
}

/* Collect every node reachable from root (iteratively: graphs can be deep). */
static gb_status collect(gb_state *S, gb_node *root, node_list *out) {
  node_list stack = {0};
  uint64_t mark = ++S->node_seq; /* fresh visit mark, never equal to an older one */
  gb_status st = list_push(S, &stack, root);
  root->visit = mark;
  while (!st && stack.n) {
    gb_node *n = stack.v[--stack.n];
    if ((st = list_push(S, out, n))) break;
    n->refcount++; /* released after backward: freeing saved inputs may drop other refs */
    if (n->freed) continue;
    for (int k = 0; k < n->args.nin && !st; k++) {
      gb_node *p = n->args.in[k]->grad_fn;
      if (p && p->visit != mark) {
        p->visit = mark;
        st = list_push(S, &stack, p);
      }
    }
  }
  free(stack.v);
  return st;
}

static int by_seq_desc(const void *x, const void *y) {
  uint64_t a = (*(gb_node *const *)x)->seq, b = (*(gb_node *const *)y)->seq;
  return a < b ? 1 : a > b ? -1 : 0;
}

/* Puts the nodes in reverse recording order (every consumer before what it consumes). The
 * depth-first walk of a chain, the usual graph, already yields that order, and checking it is
 * much cheaper than the sort (qsort was ~10% of a small model's backward). */
static void order_for_backward(node_list *nodes) {
  for (size_t k = 1; k < nodes->n; k++)
    if (nodes->v[k - 1]->seq < nodes->v[k]->seq) {
      qsort(nodes->v, nodes->n, sizeof *nodes->v, by_seq_desc);
      return;
    }
}

/* acc += g, where acc may be NULL (then it takes g). Steals g. */
static gb_status accumulate(gb_state *S, gb_tensor **acc, gb_tensor *g) {
  if (!*acc) {
    *acc = g;
    return GB_OK;
  }
  gb_tensor *sum;
  gb_status st = gb_fn_binary(S, GB_OP_ADD, *acc, g, &sum);
  gb_tensor_release(S, g);
  if (st) return st;
  gb_tensor_release(S, *acc);
  *acc = sum;
  return GB_OK;
}

/* A leaf's .grad must own its memory: gradients that are views or broadcasts are copied. */
static gb_status own_gradient(gb_state *S, gb_tensor *leaf, gb_tensor **g) {
  gb_tensor *t = *g;
  bool ok = gb_tensor_is_contiguous(t) && t->storage->refcount == 1 && t->refcount == 1 &&
            gb_shape_equal(t, leaf);
  if (ok) return GB_OK;
  gb_tensor *c;
  gb_status st = gb_tensor_empty_like(S, leaf, &c);
  if (st) return st;
  gb_opargs a = {.in = {t}, .nin = 1, .i = {-1}};
  if ((st = gb_op_run_into(S, GB_OP_COPY, &a, c))) {
    gb_tensor_release(S, c);
    return st;
  }
  gb_tensor_release(S, t);
  *g = c;
  return GB_OK;
}

/* Adds g (stolen) into the leaf's .grad. */
static gb_status give_leaf(gb_state *S, gb_tensor *input, gb_tensor *g) {
  gb_status st = own_gradient(S, input, &g);
  if (st) {
    gb_tensor_release(S, g);
    return st;
  }
  if (!input->grad) {
    input->grad = g;
    return GB_OK;
  }
  gb_opargs a = {.in = {input->grad, g}, .nin = 2};
  st = gb_op_run_into(S, GB_OP_ADD, &a, input->grad);
  gb_tensor_release(S, g);
  return st;
}

/* A leaf with a gradient hook collects this backward's contributions in ->hook_acc, so its
 * hook sees their sum once (as PyTorch's), when flush_hooked_leaves runs. Steals g. */
static gb_status defer_to_hook(gb_state *S, gb_tensor *leaf, gb_tensor *g) {
  if (!leaf->hook_acc) {
    gb_status st = gb_hooks_pending_push(S, leaf);
    if (st) {
      gb_tensor_release(S, g);
      return st;
    }
  }
  return accumulate(S, &leaf->hook_acc, g);
}

/* Runs the hooks of the leaves deferred by this backward and gives them their gradients;
 * after an error (st) it only drops what they collected. Returns the first error. */
static gb_status flush_hooked_leaves(gb_state *S, gb_status st) {
  gb_tensor *leaf;
  while ((leaf = gb_hooks_pending_pop(S)) != NULL) {
    gb_tensor *g = leaf->hook_acc;
    leaf->hook_acc = NULL;
    if (!st && g) st = gb_hooks_run(S, leaf->hook, &g);
    if (!st && g)
      st = give_leaf(S, leaf, g);
    else
      gb_tensor_release(S, g);
    gb_tensor_release(S, leaf);
  }
  return st;
}

/* Runs the hook of one deferred leaf as soon as its last contribution has arrived (the
 * node that plans_last marked), so a hook sees a finished gradient while backward still has
 * other nodes to run: DistributedDataParallel starts a bucket's all-reduce there. */
static gb_status flush_one(gb_state *S, gb_tensor *leaf) {
  for (int i = S->nhook_leaves - 1; i >= 0; i--) {
    if (S->hook_leaves[i] != leaf) continue;
    S->hook_leaves[i] = S->hook_leaves[--S->nhook_leaves];
    gb_tensor *g = leaf->hook_acc;
    leaf->hook_acc = NULL;
    gb_status st = GB_OK;
    if (g) st = gb_hooks_run(S, leaf->hook, &g);
    if (!st && g)
      st = give_leaf(S, leaf, g);
    else
      gb_tensor_release(S, g);
    gb_tensor_release(S, leaf);
    return st;
  }
  return GB_OK;
}

static bool hooked_leaf(const gb_tensor *t) {
  return !t->grad_fn && t->requires_grad && t->hook;
}

/* For each node of the run order, a bit per input: that input is a hooked leaf and this node
 * is the last to give it a gradient. NULL when no input is a hooked leaf (or no memory: the
 * hooks then run at the end, as before). Walks the nodes from the last to run, marking each
 * leaf the first time it is seen (hook_acc holds a mark meanwhile; it is NULL before and
 * after, since deferred gradients are only collected once the nodes run). */
static uint8_t *plan_last(gb_state *S, const node_list *nodes) {
  static gb_tensor mark;
  uint8_t *last = NULL;
  if (!S->hook_fn) return NULL;
  for (size_t k = nodes->n; k-- > 0;) {
    gb_node *n = nodes->v[k];
    for (int i = 0; i < n->args.nin; i++) {
      gb_tensor *t = n->args.in[i];
      if (!t || !hooked_leaf(t) || t->hook_acc) continue;
      if (!last && !(last = calloc(nodes->n, 1))) break;
      t->hook_acc = &mark;
      last[k] |= (uint8_t)(1u << i);
    }
  }
  for (size_t k = 0; last && k < nodes->n; k++)
    for (int i = 0; i < nodes->v[k]->args.nin; i++)
      if (last[k] & (1u << i)) nodes->v[k]->args.in[i]->hook_acc = NULL;
  return last;
}

static gb_status deliver(gb_state *S, gb_tensor *input, gb_tensor *g) {
  if (input->grad_fn) return accumulate(S, &input->grad_fn->gacc, g);
  if (!input->requires_grad) {
    gb_tensor_release(S, g);
    return GB_OK;
  }
  if (input->hook && S->hook_fn) return defer_to_hook(S, input, g);
  return give_leaf(S, input, g);
}

static gb_status run_node(gb_state *S, gb_node *n) {
  if (n->freed)
    return gb_errorf(S, GB_EGRAD,
                     "backward: trying to go through the graph a second time (%s); pass "
                     "retain_graph=true to the first backward",
                     gb_ops[n->op].name);
  for (int k = 0; k <= n->args.nin + 1; k++) {
    const gb_tensor *t = k < n->args.nin ? n->args.in[k] : k == n->args.nin ? n->out : n->out1;
    uint32_t was = n->version[k < n->args.nin ? k : GB_MAXIN + (k - n->args.nin)];
    if (t && t->storage->version != was) {
      char sb[GB_SHAPE_STRLEN];
      return gb_errorf(S, GB_EGRAD,
                       "backward: the %s %s of %s was modified in place after %s used it; "
                       "clone it before changing it",
                       k < n->args.nin ? "input" : "output", gb_shape_str(t, sb),
                       gb_ops[n->op].name, gb_ops[n->op].name);
    }
  }
  if (n->hook) {
    gb_status hs = gb_hooks_run(S, n->hook, &n->gacc);
    if (hs) return hs;
    /* a hook may take the gradient (releasing it, *grad = NULL; gb._grad_taken from Lua):
     * nothing flows on from here, and a leaf's .grad gets nothing (flush_one) */
    if (!n->gacc) return GB_OK;
  }
  gb_tensor *gin[GB_MAXIN] = {NULL};
  S->backward_of = gb_ops[n->op].name;
  gb_status st = gb_ops[n->op].grad(S, n, n->gacc, gin);
  S->backward_of = NULL;
  /* The incoming gradient is spent: dropping it now, before delivery, leaves views of it in
   * gin (a transpose's backward returns one) the sole owners of their storage, so a leaf
   * adopts them as .grad instead of copying (own_gradient). */
  gb_tensor_release(S, n->gacc);
  n->gacc = NULL;
  char what[64] = "";
  if (S->detect_anomaly) snprintf(what, sizeof what, "backward of %s", gb_ops[n->op].name);
  for (int k = 0; k < n->args.nin; k++) {
    if (!gin[k]) continue;
    if (!st && S->detect_anomaly) st = gb_check_finite(S, gin[k], what);
    if (!st)
      st = deliver(S, n->args.in[k], gin[k]);
    else
      gb_tensor_release(S, gin[k]);
  }
  return st;
}

static gb_status seed_gradient(gb_state *S, gb_tensor *root, gb_tensor *grad, gb_tensor **g) {
  char s0[GB_SHAPE_STRLEN], s1[GB_SHAPE_STRLEN];
  if (grad) {
    if (!gb_shape_equal(grad, root) || grad->dtype != root->dtype)
      return gb_errorf(S, GB_ESHAPE, "backward: gradient %s %s does not match the tensor %s %s",
                       gb_shape_str(grad, s0), gb_dtype_name(grad->dtype), gb_shape_str(root, s1),
                       gb_dtype_name(root->dtype));
    gb_tensor_retain(grad);
    *g = grad;
    return GB_OK;
  }
  if (root->numel != 1)
    return gb_errorf(S, GB_ESHAPE,
                     "backward: the tensor has shape %s; a gradient argument is needed unless "
                     "it has exactly one element",
                     gb_shape_str(root, s0));
  gb_status st = gb_tensor_empty_like(S, root, g);
  if (st) return st;
  gb_opargs a = {.f = {1.0}};
  return gb_op_run_into(S, GB_OP_FILL, &a, *g);
}

static gb_status backward_impl(gb_state *S, gb_tensor *root, gb_tensor *grad, bool retain);

/* After a backward: a training step frees its graph, so the nodes still holding their inputs
 * stay level from step to step. When they grew at each of the last GB_GROWTH_STEPS backward
 * calls, a tensor that needs grad is being carried across steps (`total = total + loss`):
 * every step's graph stays alive, memory grows, and releasing it once took the C stack. */
static void note_growth(gb_state *S) {
  int64_t live = S->graph_nodes;
  if (live > S->growth_prev) {
    if (S->growth_streak++ == 0) S->growth_start = S->growth_prev;
  } else {
    S->growth_streak = 0;
  }
  S->growth_prev = live;
  if (!S->growth_warned && S->growth_streak >= GB_GROWTH_STEPS &&
      live - S->growth_start >= GB_GROWTH_STEPS) {
    S->growth_warned = true;
    S->growth_pending = true;
  }
}

bool gb_state_take_growth_warning(gb_state *S, int64_t *nodes, int *steps) {
  if (!S->growth_pending) return false;
  S->growth_pending = false;
  *nodes = S->graph_nodes;
  *steps = S->growth_streak;
  return true;
}

gb_status gb_backward(gb_state *S, gb_tensor *root, gb_tensor *grad, bool retain) {
  /* a finalizer run by an emergency collection inside this backward could start another
   * one, which would release nodes the outer one is walking */
  if (S->in_backward) return gb_errorf(S, GB_EGRAD, "backward: called while a backward is running");
  S->in_backward = true;
  gb_status st = backward_impl(S, root, grad, retain);
  S->in_backward = false;
  if (!st && !retain) note_growth(S); /* a retained graph lives on by request */
  return st;
}

static gb_status backward_impl(gb_state *S, gb_tensor *root, gb_tensor *grad, bool retain) {
  if (!root->requires_grad)
    return gb_errorf(S, GB_EGRAD,
                     "backward: the tensor does not require grad (no input of the computation "
                     "had requires_grad set, or it ran under no_grad)");
  if (!gb_dtype_is_float(root->dtype))
    return gb_errorf(S, GB_EDTYPE,
                     "backward: only float32 and float64 tensors have gradients, got %s",
                     gb_dtype_name(root->dtype));
  bool was = gb_set_grad_enabled(S, false);
  gb_tensor *g = NULL;
  gb_status st = seed_gradient(S, root, grad, &g);
  if (st || !root->grad_fn) {
    if (!st) st = flush_hooked_leaves(S, deliver(S, root, g));
    gb_set_grad_enabled(S, was);
    return st;
  }
  node_list nodes = {0};
  st = collect(S, root->grad_fn, &nodes);
  if (!st) {
    order_for_backward(&nodes);
    st = accumulate(S, &root->grad_fn->gacc, g);
  } else {
    gb_tensor_release(S, g);
  }
  uint8_t *last = st ? NULL : plan_last(S, &nodes);
  for (size_t k = 0; k < nodes.n && !st; k++) {
    gb_node *n = nodes.v[k];
    if (!n->gacc) continue;
    st = run_node(S, n);
    gb_tensor_release(S, n->gacc);
    n->gacc = NULL;
    for (int i = 0; last && last[k] && !st && i < n->args.nin; i++)
      if (last[k] & (1u << i)) st = flush_one(S, n->args.in[i]);
  }
  free(last);
  for (size_t k = 0; k < nodes.n; k++) { /* on error too: leave no half-accumulated state */
    gb_node *n = nodes.v[k];
    gb_tensor_release(S, n->gacc);
    n->gacc = NULL;
    if (!retain && !st) node_free_saved(S, n);
    gb_node_release(S, n);
  }
  free(nodes.v);
  st = flush_hooked_leaves(S, st);
  gb_set_grad_enabled(S, was);
  return st;
}
