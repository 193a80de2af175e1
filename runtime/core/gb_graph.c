/* gb_graph.c — recorded steps (see gb_graph.h): a growing array of kernel calls, each holding
 * references to its input and output tensors so that their buffers stay put between
 * replays. */
#include "gb_graph.h"

#include <stdlib.h>
#include <string.h>

#include "gb_philox.h"
#include "gb_state.h"

typedef struct gb_graph_call {
  gb_opid id;
  gb_kernel_fn fn;
  gb_opargs args; /* in[] hold references */
  gb_tensor *out[GB_MAXOUT];
  int nout; /* out[0..nout) hold references */
} gb_graph_call;

struct gb_graph {
  gb_graph_call *calls;
  int n, cap;
  bool broken;
};

gb_graph *gb_graph_new(void) {
  return calloc(1, sizeof(gb_graph));
}

void gb_graph_free(gb_state *S, gb_graph *g) {
  if (!g) return;
  if (S->recording == g) S->recording = NULL;
  if (S->graph_patch == g) S->graph_patch = NULL;
  for (int k = 0; k < g->n; k++) {
    gb_graph_call *c = &g->calls[k];
    for (int j = 0; j < c->args.nin; j++)
      gb_tensor_release(S, c->args.in[j]);
    for (int j = 0; j < c->nout; j++)
      gb_tensor_release(S, c->out[j]);
  }
  free(g->calls);
  free(g);
}

gb_status gb_graph_begin(gb_state *S, gb_graph *g) {
  if (g && S->recording && S->recording != g)
    return gb_errorf(S, GB_EARG, "graph: a recording is already active (recordings do not nest)");
  S->recording = g;
  return GB_OK;
}

gb_graph *gb_graph_active(const gb_state *S) {
  return S->recording;
}

void gb_graph_note(gb_state *S, gb_opid id, gb_kernel_fn fn, const gb_opargs *a, gb_tensor **out,
                   int nout) {
  gb_graph *g = S->recording;
  if (g->n == g->cap) {
    int cap = g->cap ? g->cap * 2 : 64;
    gb_graph_call *more = realloc(g->calls, (size_t)cap * sizeof *more);
    if (!more) {
      g->broken = true;
      return;
    }
    g->calls = more;
    g->cap = cap;
  }
  gb_graph_call *c = &g->calls[g->n++];
  c->id = id;
  c->fn = fn;
  c->args = *a;
  for (int j = 0; j < a->nin; j++)
    gb_tensor_retain(a->in[j]);
  c->nout = nout;
  for (int j = 0; j < nout; j++) {
    c->out[j] = out[j];
    gb_tensor_retain(out[j]);
  }
}

int gb_graph_size(const gb_graph *g) {
  return g->n;
}

bool gb_graph_broken(const gb_graph *g) {
  return g->broken;
}

gb_opargs *gb_graph_args(gb_graph *g, int k) {
  return k >= 0 && k < g->n ? &g->calls[k].args : NULL;
}

gb_opid gb_graph_op(const gb_graph *g, int k) {
  return k >= 0 && k < g->n ? g->calls[k].id : GB_NOPS;
}

int gb_graph_patch_begin(gb_state *S, gb_graph *g) {
  int done = S->graph_patched;
  S->graph_patch = g;
  S->graph_patch_next = 0;
  S->graph_patched = 0;
  return done;
}

static bool same_tensors(const gb_opargs *x, const gb_opargs *y) {
  if (x->nin != y->nin) return false;
  for (int j = 0; j < x->nin; j++)
    if (x->in[j] != y->in[j]) return false;
  return true;
}

gb_status gb_graph_patch_call(gb_state *S, gb_opid id, const gb_opargs *a) {
  gb_graph *g = S->graph_patch;
  for (int k = S->graph_patch_next; k < g->n; k++) {
    gb_graph_call *c = &g->calls[k];
    if (c->id != id || !same_tensors(&c->args, a)) continue;
    memcpy(c->args.f, a->f, sizeof c->args.f);
    memcpy(c->args.i, a->i, sizeof c->args.i);
    S->graph_patch_next = k + 1;
    S->graph_patched++;
    return GB_OK;
  }
  return gb_errorf(S, GB_EARG, "graph: %s on these tensors is not in the recording",
                   gb_ops[id].name);
}

gb_status gb_graph_replay(gb_state *S, gb_graph *g) {
  if (g->broken)
    return gb_errorf(S, GB_EOOM,
                     "graph: the recording is incomplete (out of memory while "
                     "recording); record it again");
  if (S->recording || S->graph_patch)
    return gb_errorf(S, GB_EARG, "graph: cannot replay while a recording is made or patched");
  for (int k = 0; k < g->n; k++) {
    gb_graph_call *c = &g->calls[k];
    if (c->id == GB_OP_UNIFORM || c->id == GB_OP_NORMAL) { /* the random rows: i0 seed, i1 offset */
      c->args.i[0] = (int64_t)S->seed;
      c->args.i[1] =
          (int64_t)gb_rng_take(S, gb_philox_counters(c->out[0]->numel, c->out[0]->dtype == GB_F64));
    }
    for (int j = 0; j < c->nout; j++)
      c->out[j]->storage->version++; /* as gb_op_run_into: saved copies on a tape are stale */
    gb_status st = c->fn(S, &c->args, c->out);
    if (st) return st;
    if (gb_should_stop(S)) return gb_stop_error(S); /* between kernels: a safe point */
  }
  return GB_OK;
}
