/* two_hosts.c — a plain Lua 5.4 host (liblua5.4, no gpubp code linked) that opens two Lua
 * states, each doing `require 'gpubp'` from gpubp/core.so, while the same process also runs a
 * gpubp.h runtime (libgpubp, a second copy of the runtime): seeds, default devices, errors,
 * memory and lifetimes stay apart. Usage: two_hosts BUILD_DIR (for package.cpath). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

#include "../c/check.h"
#include <gpubp.h>

static char cpath[4096];

/* A new stock state with gpubp loaded from the build's module as global gb; NULL on error. */
static lua_State *open_state(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushstring(L, cpath);
  lua_setfield(L, -2, "cpath");
  lua_pop(L, 1);
  if (luaL_dostring(L, "gb = require 'gpubp'")) {
    fprintf(stderr, "require: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return NULL;
  }
  return L;
}

/* Runs code returning one number; NAN-free sentinel -1e300 on error (printed). */
static double eval(lua_State *L, const char *code) {
  if (luaL_dostring(L, code)) {
    fprintf(stderr, "%s: %s\n", code, lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1e300;
  }
  double v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v;
}

static const char *eval_str(lua_State *L, const char *code, char *buf, size_t cap) {
  buf[0] = '\0';
  if (luaL_dostring(L, code) == LUA_OK || lua_isstring(L, -1))
    snprintf(buf, cap, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
  lua_pop(L, 1);
  return buf;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  snprintf(cpath, sizeof cpath, "%s/lua/?.so", argv[1]);
  gpubp_runtime *rt = NULL;
  CHECK(gpubp_open(NULL, &rt) == GPUBP_OK); /* libgpubp's copy, opened first */
  lua_State *A = open_state(), *B = open_state();
  CHECK(A && B);
  if (!A || !B || !rt) return 1;

  /* one module file, one copy: both states got it from core.so */
  char buf[512];
  eval_str(A, "return package.searchpath('gpubp.core', package.cpath)", buf, sizeof buf);
  CHECK(strstr(buf, "/lua/gpubp/core.so") != NULL);

  /* the random streams are per state: same seed, same numbers, whatever the other does */
  eval(A, "gb.manual_seed(5) return 0");
  eval(B, "gb.manual_seed(5) gb.rand(1000) return 0");
  double a1 = eval(A, "return gb.rand(1):item()");
  double b1 = eval(B, "return gb.rand(1):item()");
  eval(B, "gb.manual_seed(5) return 0");
  double b0 = eval(B, "return gb.rand(1):item()");
  CHECK(a1 == b0 && a1 != b1);

  /* memory accounting is per state */
  double a_before = eval(A, "collectgarbage() return gb.memory_stats().allocated");
  eval(B, "big = gb.zeros(1024, 1024) return 0");
  CHECK(eval(A, "collectgarbage() return gb.memory_stats().allocated") == a_before);
  CHECK(eval(B, "return gb.memory_stats().allocated") >= a_before + 4194304);

  /* an error in one state names that state's code only */
  eval_str(A, "return select(2, pcall(function() return gb.ones(2, 3):matmul(gb.ones(2, 3)) end))",
           buf, sizeof buf);
  CHECK(strstr(buf, "matmul: (2,3) x (2,3)") != NULL);
  CHECK(eval(B, "return gb.ones(2, 3):matmul(gb.ones(3, 2)):sum():item()") == 12);

  /* the gpubp.h runtime in the same process is a third, separate state */
  CHECK(gpubp_dostring(rt, "x = gb.ones(4):sum():item() * 2", "t") == GPUBP_OK);
  double x = 0;
  CHECK(gpubp_get_number(rt, "x", &x) == GPUBP_OK && x == 8);
  CHECK(eval(A, "return x == nil and 1 or 0") == 1);

  /* closing one state frees its tensors and leaves the other working */
  lua_close(B);
  CHECK(eval(A, "local m = gb.nn.Linear(3, 2) return m(gb.ones(5, 3)):size(1)") == 5);
  lua_close(A);
  CHECK(gpubp_dostring(rt, "y = gb.nn.Linear(2, 2)(gb.ones(1, 2)):numel()", "t") == GPUBP_OK);
  gpubp_close(rt);
  if (!failures) printf("two_hosts: passed\n");
  return failures ? 1 : 0;
}
