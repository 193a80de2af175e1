/* lgb_optim.c — the fused optimizer rows for the Lua optimizers (lua/gpubp/optim): one call
 * per parameter updates it and its state in place, outside autograd. */
#include "gb_graph.h"
#include "gb_state.h"
#include "lgb.h"

/* Runs the fused row, or, while gb.graph patches a recording (the optimizer's step computed
 * again before a replay), gives these scalars to the recorded call instead. */
static void run_update(lua_State *L, gb_opid id, gb_opargs *a) {
  gb_state *S = gbL_state(L);
  if (S->graph_patch) {
    GBL_CHECK(L, S, gb_graph_patch_call(S, id, a));
    return;
  }
  bool was = gb_set_grad_enabled(S, false);
  gb_status st = gb_op_run_into(S, id, a, a->in[0]);
  gb_set_grad_enabled(S, was);
  if (st) gbL_raise(L, S);
}

/* gb._sgd_step(p, grad, buf, lr, momentum, dampening, weight_decay, nesterov, first) */
static int l_sgd_step(lua_State *L) {
  gb_opargs a = {.in = {gbL_check_tensor(L, 1), gbL_check_tensor(L, 2), gbL_check_tensor(L, 3)},
                 .nin = 3};
  for (int k = 0; k < 4; k++)
    a.f[k] = luaL_checknumber(L, 4 + k);
  a.i[0] = lua_toboolean(L, 8);
  a.i[1] = lua_toboolean(L, 9);
  run_update(L, GB_OP_SGD_STEP, &a);
  return 0;
}

/* gb._adam_step(p, grad, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled) */
static int l_adam_step(lua_State *L) {
  gb_opargs a = {.in = {gbL_check_tensor(L, 1), gbL_check_tensor(L, 2), gbL_check_tensor(L, 3),
                        gbL_check_tensor(L, 4)},
                 .nin = 4};
  for (int k = 0; k < 5; k++)
    a.f[k] = luaL_checknumber(L, 5 + k);
  a.i[0] = luaL_checkinteger(L, 10);
  a.i[1] = lua_toboolean(L, 11);
  if (a.i[0] < 1) return luaL_error(L, "adam_step: step must be >= 1, got %d", (int)a.i[0]);
  run_update(L, GB_OP_ADAM_STEP, &a);
  return 0;
}

static const luaL_Reg fns[] = {
    {"_sgd_step", l_sgd_step},
    {"_adam_step", l_adam_step},
    {NULL, NULL},
};

void gbL_open_optim(lua_State *L) {
  luaL_setfuncs(L, fns, 0);
}
