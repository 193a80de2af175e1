/* gb_graph.h — recorded steps: while a recording is active, every kernel call that gb_op_run
 * and gb_op_run_into make is appended to it (kernel, arguments, input and output tensors,
 * all held). A replay calls the same kernels again on the same buffers, with no shape rules,
 * no allocation, no tape and no Lua: the engine behind gb.graph (lua/gpubp/graph.lua). */
#ifndef GB_GRAPH_H
#define GB_GRAPH_H

#include "gb_op.h"

typedef struct gb_graph gb_graph;

/* A new, empty recording (NULL when out of memory). */
gb_graph *gb_graph_new(void);
/* Releases every tensor the recording holds, then the recording. */
void gb_graph_free(gb_state *S, gb_graph *g);

/* Makes g the state's active recording (NULL: none). One at a time: GB_EARG when another is
 * active. The caller stops it (gb_graph_begin(S, NULL)) on every path, errors included. */
gb_status gb_graph_begin(gb_state *S, gb_graph *g);
/* The active recording, or NULL. */
gb_graph *gb_graph_active(const gb_state *S);

/* Called by gb_op_run/gb_op_run_into after a kernel ran: appends the call to the active
 * recording. A failure (out of memory) marks the recording broken; gb_graph_replay then
 * refuses it. */
void gb_graph_note(gb_state *S, gb_opid id, gb_kernel_fn fn, const gb_opargs *a, gb_tensor **out,
                   int nout);

/* Number of kernel calls recorded so far (the index the next one will get, from 0). */
int gb_graph_size(const gb_graph *g);
/* Whether a kernel call failed to be recorded (then the recording must not be replayed). */
bool gb_graph_broken(const gb_graph *g);
/* The arguments of recorded call `k`, for a caller that patches values that change between
 * replays (an optimizer's learning rate and step count); NULL when k is out of range. */
gb_opargs *gb_graph_args(gb_graph *g, int k);
/* The op of recorded call `k` (GB_NOPS when out of range). */
gb_opid gb_graph_op(const gb_graph *g, int k);

/* Patch mode, for the Lua code that computes a recorded call's scalars (an optimizer's step):
 * while g is being patched, gb_graph_patch_call takes the place of running an op, and any
 * other op is refused. gb_graph_patch_begin(S, NULL) ends it; it returns the number of calls
 * patched since it began. */
int gb_graph_patch_begin(gb_state *S, gb_graph *g);
/* Gives the next recorded call of op `id` on the same tensors as `a` (searching forward from
 * the last one patched) the scalar arguments of `a`. GB_EARG when no such call follows. */
gb_status gb_graph_patch_call(gb_state *S, gb_opid id, const gb_opargs *a);

/* Runs the recorded calls in order. Random rows take fresh generator offsets, in the same
 * amounts and order as when recorded, so a replay draws what an eager step would. Stops at
 * the first failing kernel with its status. */
gb_status gb_graph_replay(gb_state *S, gb_graph *g);

#endif
