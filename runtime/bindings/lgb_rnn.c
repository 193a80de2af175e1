/* lgb_rnn.c — the recurrent rows for lua/gpubp/nn/LSTM.lua and GRU.lua: gb._lstm_seq and
 * gb._gru_seq run one layer over a whole sequence and return its (T+1,B,S*H) record (layout in
 * runtime/core/gb_rnn_math.h); the layers hand out views of it. Private: `_` names. */
#include "lgb.h"

/* gb._lstm_seq(xg (T,B,4H), w_hh (4H,H), h0 (B,H), c0 (B,H)) -> (T+1,B,6H);
 * gb._gru_seq(xg (T,B,3H), w_hh (3H,H), b_hh (3H), h0 (B,H)) -> (T+1,B,5H) */
static int l_seq(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_opid id = (gb_opid)lua_tointeger(L, lua_upvalueindex(1));
  gb_tensor *r;
  gb_opargs a = {.nin = 4};
  for (int k = 0; k < 4; k++)
    a.in[k] = gbL_check_tensor(L, k + 1);
  if (gb_op_run(S, id, &a, &r)) return gbL_raise(L, S);
  gbL_push_tensor(L, r);
  return 1;
}

void gbL_open_rnn(lua_State *L) {
  lua_pushinteger(L, GB_OP_LSTM_SEQ);
  lua_pushcclosure(L, l_seq, 1);
  lua_setfield(L, -2, "_lstm_seq");
  lua_pushinteger(L, GB_OP_GRU_SEQ);
  lua_pushcclosure(L, l_seq, 1);
  lua_setfield(L, -2, "_gru_seq");
}
