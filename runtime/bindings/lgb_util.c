/* lgb_util.c — argument helpers shared by the binding files: shapes given as numbers or a
 * table, 1-based/negative dims, and the shared tensor method table. */
#include "lgb.h"

int gbL_check_shape(lua_State *L, int idx, int64_t *shape) {
  int nd = 0;
  if (lua_istable(L, idx)) {
    nd = (int)lua_rawlen(L, idx);
    if (nd > GB_MAXDIM) return luaL_error(L, "shape: %d dimensions (at most %d)", nd, GB_MAXDIM);
    for (int d = 0; d < nd; d++) {
      lua_rawgeti(L, idx, d + 1);
      int ok;
      shape[d] = lua_tointegerx(L, -1, &ok);
      if (!ok)
        return luaL_error(L, "shape: entry %d is %s, expected an integer", d + 1,
                          luaL_typename(L, -1));
      lua_pop(L, 1);
    }
    return nd;
  }
  int top = lua_gettop(L);
  for (int k = idx; k <= top && lua_type(L, k) == LUA_TNUMBER; k++) {
    if (nd == GB_MAXDIM) return luaL_error(L, "shape: more than %d dimensions", GB_MAXDIM);
    int ok;
    shape[nd++] = lua_tointegerx(L, k, &ok);
    if (!ok) return luaL_error(L, "shape: size %d is not an integer", nd);
  }
  return nd;
}

int gbL_check_dim(lua_State *L, int idx, int ndim, const char *op) {
  lua_Integer d = luaL_checkinteger(L, idx);
  lua_Integer z = d < 0 ? d + ndim : d - 1;
  if (z < 0 || z >= ndim || d == 0) {
    if (ndim == 0)
      return luaL_error(L, "%s: dimension %d out of range (the tensor is 0-d)", op, (int)d);
    return luaL_error(L,
                      "%s: dimension %d out of range for a %d-D tensor (expected 1..%d or -%d..-1)",
                      op, (int)d, ndim, ndim, ndim);
  }
  return (int)z;
}

int gbL_opt_dim(lua_State *L, int idx, int ndim, int def, const char *op) {
  return lua_isnoneornil(L, idx) ? def : gbL_check_dim(L, idx, ndim, op);
}

void gbL_add_methods(lua_State *L, const luaL_Reg *fns) {
  lua_getfield(L, -1, "_tensor_methods");
  luaL_setfuncs(L, fns, 0);
  lua_pop(L, 1);
}
