/* gb_op.h — the op table: every tensor op is one row of gb_ops.def (name, arity, shape rule,
 * CPU kernel, CUDA launcher, backward rule). The core keeps the device-independent columns;
 * each backend builds its kernel table from its own column (gb_backend.h). gb_op_run
 * validates, allocates the outputs, dispatches to the inputs' device's backend and records a
 * tape node when grad is needed. */
#ifndef GB_OP_H
#define GB_OP_H

#include "gb_tensor.h"

/* Tensor inputs per row. 5 since sdpa_backward reads (gout, q, k, v, mask): the fused attention
 * recomputes its probabilities instead of saving (B,H,L,S) of them, so backward needs every
 * forward input; the alternatives (packing k and v into one tensor, or a second backward row
 * for the mask) would cost a copy per step or split one kernel in two. Nothing else assumes 4:
 * arrays of inputs (gb_opargs.in, gb_node.version, the tape's gin, gb_graph's records) are
 * sized by this constant and loops run to nin; the cat row takes up to GB_MAXIN pieces. */
#define GB_MAXIN 5
#define GB_MAXOUT 2

typedef enum gb_opid {
#define GB_OP(id, name, nin, infer, cpu, cuda, grad) id,
#include "gb_ops.def"
#undef GB_OP
  GB_NOPS
} gb_opid;

/* Arguments of one op call: tensors (borrowed) plus scalar and integer parameters whose
 * meaning each row documents in gb_ops.def. */
typedef struct gb_opargs {
  gb_tensor *in[GB_MAXIN];
  int nin;
  double f[6];
  int64_t i[GB_MAXDIM + 4]; /* the window rows use 12 (gb_window.h) */
} gb_opargs;

/* What a row's shape rule fills in: the outputs to allocate. A view row instead sets
 * `view` and fills out[0]'s shape/stride/offset itself (storage is shared with in[0]). */
typedef struct gb_outspec {
  int nout;
  int ndim[GB_MAXOUT];
  int64_t shape[GB_MAXOUT][GB_MAXDIM];
  gb_dtype dtype[GB_MAXOUT];
  bool view;
  int64_t view_stride[GB_MAXDIM];
  int64_t view_offset;
} gb_outspec;

typedef gb_status (*gb_infer_fn)(gb_state *S, gb_opid id, const gb_opargs *a, gb_outspec *o);
typedef gb_status (*gb_kernel_fn)(gb_state *S, const gb_opargs *a, gb_tensor **out);
/* Backward rule: given the node (inputs, saved output, args) and the gradient of output 0,
 * set gin[k] to a new reference holding d(loss)/d(in[k]) or leave it NULL (no gradient).
 * Rules are written with gb_op_run, so they run on whatever device holds the tensors. */
typedef gb_status (*gb_grad_fn)(gb_state *S, gb_node *n, gb_tensor *gout, gb_tensor **gin);

typedef struct gb_oprow {
  const char *name;
  int nin;
  gb_infer_fn infer;
  gb_grad_fn grad; /* NULL when the op has no derivative */
} gb_oprow;

extern const gb_oprow gb_ops[GB_NOPS];

/* A node of the tape: one recorded op whose inputs needed grad. */
struct gb_node {
  int refcount;
  gb_opid op;
  uint64_t seq;                   /* creation order: a valid topological order for backward */
  gb_opargs args;                 /* in[] hold references while the node lives */
  gb_tensor *out;                 /* alias of output 0 (shares storage, no grad_fn: no cycles) */
  gb_tensor *out1;                /* alias of output 1 of a two-output row (max_pool2d's argmax
                                     indices, batch_norm's statistics) or NULL: saved for the
                                     backward rule so that it need not recompute it */
  gb_tensor *gacc;                /* gradient of out accumulated during backward */
  uint32_t version[GB_MAXIN + 2]; /* storage versions of in[], out and out1 when recorded */
  bool freed;                     /* saved tensors were released by a non-retaining backward */
  uint32_t hook;                  /* gradient hooks on out (gb_hooks.c), 0 if none */
  uint64_t visit;                 /* traversal mark */
  gb_node *next_free;
};

/* Run op `id` on `a`, writing nout new references to out[]. On failure out[] is untouched
 * and S's message names the op, the shapes/dtypes/devices and what was expected. */
gb_status gb_op_run(gb_state *S, gb_opid id, const gb_opargs *a, gb_tensor **out);
/* Same, but output 0 is the existing tensor `dst` (in-place / out= form). dst must have the
 * shape and dtype the op produces. Refused on a tensor that needs grad while grad is on. */
gb_status gb_op_run_into(gb_state *S, gb_opid id, const gb_opargs *a, gb_tensor *dst);

/* A contiguous tensor with t's values: t itself (retained) when already contiguous, else a
 * copy made by the device's backend. Not recorded on the tape (kernels use it; autograd code
 * uses gb_fn_contiguous). */
GB_API gb_status gb_tensor_contiguous(gb_state *S, gb_tensor *t, gb_tensor **out);
/* Contiguous forms (gb_tensor_contiguous) of a's first n inputs into c[0..n-1], all or none:
 * on failure every reference already taken is released. gb_tensors_release drops them. */
GB_API gb_status gb_opargs_contiguous(gb_state *S, const gb_opargs *a, int n, gb_tensor **c);
GB_API void gb_tensors_release(gb_state *S, gb_tensor **c, int n);

/* Convenience wrapper used by backward rules and bindings (two inputs: gb_fn_binary). */
gb_status gb_op1(gb_state *S, gb_opid id, gb_tensor *x, gb_tensor **out);

/* Whether gb_op_run(S, id, a, ...) records a tape node: grad mode is on, the row has a backward
 * rule and an input requires grad. A shape rule may ask, to add an output that only the backward
 * rule reads (max_pool2d's indices). */
bool gb_op_records(const gb_state *S, gb_opid id, const gb_opargs *a);

/* Tape (gb_tape.c). Record a node for output `out` of op `id` (and its second output out1, or
 * NULL, kept for the backward rule); sets out's grad_fn. */
gb_status gb_tape_record(gb_state *S, gb_opid id, const gb_opargs *a, gb_tensor *out,
                         gb_tensor *out1);
/* Backpropagate from `root` with gradient `grad` (NULL: root must have one element, grad 1).
 * Leaves that require grad accumulate into ->grad. Unless `retain`, the graph's saved
 * tensors are released so a second backward through it is an error. */
gb_status gb_backward(gb_state *S, gb_tensor *root, gb_tensor *grad, bool retain);
void gb_node_release(gb_state *S, gb_node *n);
bool gb_grad_enabled(const gb_state *S);
/* Anomaly mode: every op checks its float32 outputs (and backward rules their gradients) for
 * NaN/Inf and fails with a message naming the op. Off by default (it costs a pass). */
void gb_set_detect_anomaly(gb_state *S, bool on);
/* GB_EARG naming `what` when t (float32, any device) holds a NaN or Inf. */
gb_status gb_check_finite(gb_state *S, const gb_tensor *t, const char *what);
/* Set grad mode, returning the previous one. */
bool gb_set_grad_enabled(gb_state *S, bool on);

/* Gradient hooks (gb_hooks.c). A host (the Lua bindings) gives the state one callback; the
 * tape calls it with a hook id and the gradient of a hooked tensor, which the callback may
 * replace (releasing the old one). A non-OK status aborts backward with S's message. */
typedef gb_status (*gb_grad_hook_fn)(gb_state *S, void *ud, uint32_t id, gb_tensor **grad);
void gb_hooks_set_callback(gb_state *S, gb_grad_hook_fn fn, void *ud);
/* The hook id of t (a leaf needing grad, or a non-leaf: its producing node), made on first
 * use. 0 when t does not require grad. */
uint32_t gb_hooks_attach(gb_state *S, gb_tensor *t);
/* Runs the callback for hook `id` on *grad when a callback is set. */
gb_status gb_hooks_run(gb_state *S, uint32_t id, gb_tensor **grad);
/* Ids whose tensor or node was freed since the last call (the host drops their functions);
 * writes at most cap of them and returns how many were written. */
int gb_hooks_take_dead(gb_state *S, uint32_t *ids, int cap);
/* Called by the tensor and node destructors for an object carrying hook `id`. */
void gb_hooks_dead(gb_state *S, uint32_t id);
/* The running backward's list of hooked leaves waiting for their summed gradient: push
 * retains the leaf (GB_EOOM when the list cannot grow); pop returns a reference, or NULL. */
gb_status gb_hooks_pending_push(gb_state *S, gb_tensor *leaf);
gb_tensor *gb_hooks_pending_pop(gb_state *S);

#endif
