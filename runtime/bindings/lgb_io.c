/* lgb_io.c — Lua bindings for file I/O: gb.read_idx (MNIST IDX, gzip or raw) and
 * gb.save / gb.load (safetensors checkpoints). Arguments are checked here; the parsing and
 * writing live in gb_idx.c and gb_safetensors.c, which never raise. */
#include <string.h>

#include "gb_fn.h"
#include "gb_idx.h"
#include "gb_safetensors.h"
#include "lgb.h"

/* read_idx(path [, dtype='float32']) -> tensor with the file's dims, values not rescaled. */
static int io_read_idx(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  gbL_check_path(L, path, 0, "read_idx");
  const char *dts = luaL_optstring(L, 2, "float32");
  gb_dtype dt;
  if (!gb_dtype_parse(dts, &dt))
    return luaL_argerror(L, 2, lua_pushfstring(L, "unknown dtype '%s'", dts));
  gb_state *S = gbL_state(L);
  gb_tensor *t = NULL;
  GBL_CHECK(L, S, gb_idx_read(S, path, dt, &t));
  gbL_push_tensor(L, t);
  return 1;
}

/* Collect the metadata table at index 3 into m[] (strings anchored in the table at `anchor`).
 * Values convert with lua_tolstring, which runs no metamethod (luaL_tolstring would call a
 * __tostring that a script can put on the string metatable). */
static int io_collect_meta(lua_State *L, const char *path, int anchor, gb_safetensors_meta **out) {
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, 3))
    n++, lua_pop(L, 1);
  gb_safetensors_meta *m = lua_newuserdatauv(L, sizeof *m * (size_t)(n ? n : 1), 0);
  lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
  int i = 0;
  lua_pushnil(L);
  while (lua_next(L, 3)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      return luaL_error(L, "save: %s: metadata keys must be strings (got a %s key)", path,
                        luaL_typename(L, -2));
    int vt = lua_type(L, -1);
    if (vt != LUA_TSTRING && vt != LUA_TNUMBER && vt != LUA_TBOOLEAN)
      return luaL_error(L, "save: %s: metadata value for '%s' is a %s, expected a string", path,
                        lua_tostring(L, -2), luaL_typename(L, -1));
    if (i == n) return luaL_error(L, "save: %s: the metadata table changed while saving", path);
    m[i].key = lua_tostring(L, -2); /* the key stays alive in the table */
    if (vt == LUA_TBOOLEAN)
      lua_pushstring(L, lua_toboolean(L, -1) ? "true" : "false");
    else
      lua_pushvalue(L, -1);
    m[i].value = lua_tostring(L, -1); /* a copy: converting the table's value would change it */
    lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1); /* keep the string alive */
    lua_pop(L, 1);
    i++;
  }
  *out = m;
  return i;
}

/* save(path, {name = tensor, ...} [, {key = string}]) -> true. Atomic; CUDA tensors are
 * copied to the CPU first, views are written in logical order. No Lua code runs once the
 * first tensor pointer is taken (a metamethod could close that tensor): the metadata is read
 * first, and table walks are raw. */
static int io_save(lua_State *L) {
  if (lua_type(L, 1) != LUA_TSTRING && lua_type(L, 2) == LUA_TSTRING)
    return luaL_error(L, "save: the path comes first: save(path, tensors [, metadata]) "
                         "(PyTorch's torch.save(obj, path) order is swapped here)");
  if (lua_gettop(L) > 3)
    return luaL_error(L, "save: expected save(path, tensors [, metadata]), got %d arguments",
                      lua_gettop(L));
  const char *path = luaL_checkstring(L, 1);
  gbL_check_path(L, path, 1, "save");
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 3);
  lua_newtable(L); /* 4: anchors temporaries (CPU copies, metadata strings) */
  const int anchor = 4;
  gb_safetensors f = {0};
  if (!lua_isnil(L, 3)) f.nmeta = io_collect_meta(L, path, anchor, &f.meta);
  gb_state *S = gbL_state(L);
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, 2))
    n++, lua_pop(L, 1);
  f.entries = lua_newuserdatauv(L, sizeof *f.entries * (size_t)(n ? n : 1), 0);
  lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      return luaL_error(L, "save: %s: tensor names must be strings (got a %s key)", path,
                        luaL_typename(L, -2));
    const char *key = lua_tostring(L, -2);
    gb_tensor *t = gbL_to_tensor(L, -1);
    if (!t)
      return luaL_error(L, "save: %s: value for '%s' is a %s, expected a tensor", path, key,
                        luaL_typename(L, -1));
    if (f.n == n) return luaL_error(L, "save: %s: the tensor table changed while saving", path);
    if (t->device != GB_CPU) {
      gb_tensor *h;
      GBL_CHECK(L, S, gb_fn_to_device(S, t, GB_CPU, &h));
      gbL_push_tensor(L, h);
      lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
      t = h;
    }
    f.entries[f.n].name = key;
    f.entries[f.n].tensor = t;
    f.n++;
    lua_pop(L, 1);
  }
  GBL_CHECK(L, S, gb_safetensors_save(S, path, &f));
  lua_pushboolean(L, 1);
  return 1;
}

/* load(path [, {device=}]) -> {name = tensor} (CPU, or moved to device through each tensor's
 * :to() method), {key = string} metadata. An unknown option is an error naming it. */
static int io_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  gbL_check_path(L, path, 0, "load");
  gb_state *S = gbL_state(L);
  const char *device = NULL;
  if (!lua_isnoneornil(L, 2)) {
    if (!lua_istable(L, 2))
      return luaL_error(L, "load: expected an options table {device=} as argument 2, got %s",
                        luaL_typename(L, 2));
    lua_pushnil(L);
    while (lua_next(L, 2) != 0) {
      if (lua_type(L, -2) != LUA_TSTRING || strcmp(lua_tostring(L, -2), "device") != 0) {
        lua_pushvalue(L, -2);
        return luaL_error(L, "load: unknown option '%s'", luaL_tolstring(L, -1, NULL));
      }
      if (lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "load: option 'device' expects a string, got %s",
                          luaL_typename(L, -1));
      lua_pop(L, 1);
    }
    lua_getfield(L, 2, "device");
    lua_replace(L, 2);
    device = lua_tostring(L, 2); /* anchored at index 2 */
  }
  if (lua_gettop(L) > 2)
    return luaL_error(L, "load: expected load(path [, {device=}]), got %d arguments",
                      lua_gettop(L));
  lua_settop(L, 2); /* 1: the path (it must stay anchored: `path` points into it), 2: device */
  lua_newtable(L);  /* 3: tensors */
  lua_newtable(L);  /* 4: metadata */
  gb_safetensors f;
  GBL_CHECK(L, S, gb_safetensors_load(S, path, &f));
  for (int i = 0; i < f.nmeta; i++) {
    lua_pushstring(L, f.meta[i].value);
    lua_setfield(L, 4, f.meta[i].key);
  }
  for (int i = 0; i < f.n; i++) {
    gb_tensor *t = f.entries[i].tensor;
    f.entries[i].tensor = NULL; /* ownership moves to the userdata */
    gbL_push_tensor(L, t);
    lua_setfield(L, 3, f.entries[i].name);
  }
  gb_safetensors_free(S, &f);
  if (device != NULL) { /* every tensor is owned by table 3 now: an error here leaks nothing */
    lua_pushnil(L);
    while (lua_next(L, 3) != 0) {
      lua_getfield(L, -1, "to");
      lua_insert(L, -2);
      lua_pushvalue(L, 2);
      lua_call(L, 2, 1);
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_settable(L, 3);
    }
  }
  return 2;
}

static const luaL_Reg io_funcs[] = {
    {"read_idx", io_read_idx},
    {"save", io_save},
    {"load", io_load},
    {NULL, NULL},
};

void gbL_open_io(lua_State *L) {
  luaL_setfuncs(L, io_funcs, 0);
}
