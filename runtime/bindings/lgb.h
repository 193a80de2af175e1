/* lgb.h — helpers shared by the Lua binding files (lgb_*.c), the only C files that raise Lua
 * errors. Each lgb_<part>.c exports gbL_open_<part>(L), which adds its functions to the module
 * table on top of the stack; lgb_module.c calls them all from luaopen_gpubp_core. */
#ifndef LGB_H
#define LGB_H

#include <lauxlib.h>
#include <lua.h>

#include "gb_op.h"

#define GBL_TENSOR_MT "gpubp.Tensor"

/* The runtime state of this Lua state (created on first use, freed when L closes). */
gb_state *gbL_state(lua_State *L);
/* The same, at a binding's safe point: its first call, before it takes any tensor pointer.
 * Runs the full collection the allocator asked for under memory pressure (so Lua finalizers
 * run here, never inside an op) and releases tensors closed since the last safe point. */
gb_state *gbL_enter(lua_State *L);
/* Argument `idx` must be a tensor; returns it borrowed, or raises "bad argument". */
gb_tensor *gbL_check_tensor(lua_State *L, int idx);
/* Returns the tensor at idx or NULL if it is not one. */
gb_tensor *gbL_to_tensor(lua_State *L, int idx);
/* Push a new userdata owning `t` (steals the reference). */
void gbL_push_tensor(lua_State *L, gb_tensor *t);
/* Pushes "file:line: " of the user's line: the first Lua frame whose source is not under
 * lua/gpubp (lua/gpubp/errors.lua stores that prefix in the registry at GBL_LIB_SOURCE_KEY
 * when it loads), so an error met inside a library layer names the user's script; pushes
 * "" when no such frame exists. */
void gbL_where(lua_State *L);
#define GBL_LIB_SOURCE_KEY "gpubp.lib_source"
/* luaL_error with the position of gbL_where (never returns). The binding files call it as
 * luaL_error through the macro below, so every message they raise names the user's line. */
int gbL_error(lua_State *L, const char *fmt, ...);
#define luaL_error gbL_error
/* Raise the state's last error as a Lua error, at the user's line (never returns). */
int gbL_raise(lua_State *L, gb_state *S);
/* Check a status: on failure raise the state's message. */
#define GBL_CHECK(L, S, call)                                                                      \
  do {                                                                                             \
    if ((call) != GB_OK) gbL_raise((L), (S));                                                      \
  } while (0)

/* Reads a shape given either as numbers from `idx` on, or as one table at `idx`; returns
 * the number of dims. */
int gbL_check_shape(lua_State *L, int idx, int64_t *shape);
/* A 1-based (or negative, from the end) dim argument for a tensor of ndim dims, returned
 * 0-based; a bad one raises "<op>: dimension d out of range ...". */
int gbL_check_dim(lua_State *L, int idx, int ndim, const char *op);
int gbL_opt_dim(lua_State *L, int idx, int ndim, int def, const char *op);
/* Adds the functions to the shared tensor method table (gb._tensor_methods); the module
 * table must be on top of the stack. */
void gbL_add_methods(lua_State *L, const luaL_Reg *fns);

/* Register package.preload['gpubp.core'] and make lua/gpubp findable by `require 'gpubp'`
 * (next to the installed executable/library, else the source tree of a development build). */
GB_API void gbL_install(lua_State *L);
GB_API int luaopen_gpubp_core(lua_State *L);
/* The Lua side as a whole (gbL_install, then gpubp/init.lua): the loader of gpubp.so. */
GB_API int luaopen_gpubp(lua_State *L);

void gbL_open_tensor(lua_State *L);
void gbL_open_create(lua_State *L);
void gbL_open_math(lua_State *L);
void gbL_open_nn(lua_State *L);
void gbL_open_autograd(lua_State *L);
void gbL_open_io(lua_State *L);
void gbL_open_optim(lua_State *L);
void gbL_open_graph(lua_State *L); /* lgb_graph.c: recordings behind gb.graph */
void gbL_open_cuda(lua_State *L);  /* lgb_cuda.c: the gb.cuda table, with or without CUDA */
void gbL_open_host(lua_State *L);  /* lgb_host.c: gb.host_metric */
void gbL_open_dist(lua_State *L);  /* lgb_dist.c: gb._dist, behind gb.distributed */
void gbL_open_shape(lua_State *L); /* lgb_shape.c: issue 15's cumsum, repeat, sort, cat ... */
void gbL_open_data(lua_State *L);  /* lgb_data.c: gb._gather_rows, the DataLoader's prefetch */
void gbL_open_rnn(lua_State *L);   /* lgb_rnn.c: the recurrent rows behind nn.LSTM/GRU */
void gbL_open_attn(lua_State *L);  /* lgb_attn.c: layer norm, masked softmax, attention */

/* What an embedding host plugs in (lgb_host.c). `path` answers whether a script may read
 * (write == 0) or write a file; `metric` receives gb.host_metric's scalars. */
typedef struct gbL_host {
  int (*path)(void *ud, const char *path, int write);
  void *path_ud;
  void (*metric)(void *ud, const char *name, int64_t step, double value);
  void *metric_ud;
  /* called by gbL_raise before raising while the state's stop flag is set */
  void (*on_stop)(lua_State *L, void *ud);
  void *on_stop_ud;
} gbL_host;
/* The host slots if any were created, else NULL (never raises). */
gbL_host *gbL_host_peek(lua_State *L);
/* This Lua state's host slots (created zeroed on first use; may raise out of memory). */
GB_API gbL_host *gbL_host_of(lua_State *L);
/* Raises "<op>: '<path>' is outside the folders this script may read|write" when the host's
 * folder rule refuses `path`; returns when there is no rule or it allows the path. */
void gbL_check_path(lua_State *L, const char *path, int write, const char *op);

#endif
