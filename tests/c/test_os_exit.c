/* test_os_exit.c — a script cannot end its embedding host (issue 19, item 7) and cannot
 * slip precompiled bytecode in (item 6): os.exit in a runtime opened with the defaults
 * raises a Lua error the host sees as GPUBP_ERRRUN, the runtime keeps working, and
 * gpubp_dofile / load / require refuse binary chunks unless allow_bytecode is set. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>

#include "gpubp.h"
#include "check.h"

static gpubp_runtime *open_with(int allow_bytecode) {
  gpubp_options opt;
  gpubp_options_init(&opt);
  opt.device = "cpu";
  opt.allow_bytecode = allow_bytecode;
  gpubp_runtime *rt = NULL;
  CHECK(gpubp_open(&opt, &rt) == GPUBP_OK);
  return rt;
}

/* After a refused os.exit the runtime still computes. */
static void check_still_computes(gpubp_runtime *rt) {
  double v = 0;
  CHECK(gpubp_dostring(rt, "s = gb.arange(1, 5):sum():item()", NULL) == GPUBP_OK);
  CHECK(gpubp_get_number(rt, "s", &v) == GPUBP_OK && v == 10);
}

static void test_os_exit(void) {
  gpubp_runtime *rt = open_with(0);
  CHECK(gpubp_dostring(rt, "os.exit(3)", "=exit") == GPUBP_ERRRUN);
  CHECK(strncmp(gpubp_errmsg(rt),
                "exit:1: os.exit(3) refused: this is an embedded gpubp runtime, and only its "
                "host ends the process",
                90) == 0);
  check_still_computes(rt);
  CHECK(gpubp_dostring(rt, "os.exit(true, true)", "=exit") == GPUBP_ERRRUN);
  CHECK(strstr(gpubp_errmsg(rt), "os.exit(0) refused") != NULL);
  CHECK(gpubp_dostring(rt, "os.exit(false)", "=exit") == GPUBP_ERRRUN);
  CHECK(strstr(gpubp_errmsg(rt), "os.exit(1) refused") != NULL);
  /* a script may catch it and go on */
  CHECK(gpubp_dostring(rt, "ok, msg = pcall(os.exit, 7); assert(not ok)", NULL) == GPUBP_OK);
  /* from inside a coroutine too */
  CHECK(gpubp_dostring(rt, "coroutine.wrap(function() os.exit(5) end)()", "=co") == GPUBP_ERRRUN);
  CHECK(strstr(gpubp_errmsg(rt), "os.exit(5) refused") != NULL);
  check_still_computes(rt);
  gpubp_close(rt);
}

/* Writes string.dump of a function returning 42 to `path`. */
static void write_bytecode(gpubp_runtime *rt, const char *path) {
  lua_State *L = gpubp_lua(rt);
  lua_pushstring(L, path);
  lua_setglobal(L, "bc_path");
  CHECK(gpubp_dostring(rt,
                       "local f = assert(io.open(bc_path, 'wb'))\n"
                       "f:write(string.dump(function() answer = 42 return 42 end)) f:close()",
                       NULL) == GPUBP_OK);
}

static const char refused[] = "attempt to load a binary chunk (mode is 't')";

static void test_bytecode(void) {
  char path[] = "/tmp/gpubp_test_bcXXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  gpubp_runtime *rt = open_with(0);
  write_bytecode(rt, path);
  CHECK(gpubp_dofile(rt, path) == GPUBP_ERRSYNTAX);
  CHECK(strcmp(gpubp_errmsg(rt), refused) == 0);
  CHECK(gpubp_dostring(rt,
                       "local f, e = load(string.dump(function() end)); assert(f == nil)\n"
                       "assert(e == \"attempt to load a binary chunk (mode is 't')\")\n"
                       "local f2 = load(string.dump(function() end), 'x', 'b'); assert(not f2)\n"
                       "assert(loadfile(bc_path) == nil)\n"
                       "assert(not pcall(dofile, bc_path))\n"
                       "assert(load('return 6', 'src', 't', {})() == 6)",
                       NULL) == GPUBP_OK);
  check_still_computes(rt);
  gpubp_close(rt);

  rt = open_with(1); /* the explicit opt-in */
  lua_State *L = gpubp_lua(rt);
  lua_pushstring(L, path);
  lua_setglobal(L, "bc_path");
  double v = 0;
  CHECK(gpubp_dofile(rt, path) == GPUBP_OK);
  CHECK(gpubp_get_number(rt, "answer", &v) == GPUBP_OK && v == 42);
  CHECK(gpubp_dostring(rt, "assert(loadfile(bc_path)() == 42)", NULL) == GPUBP_OK);
  gpubp_close(rt);
  unlink(path);
}

int main(void) {
  test_os_exit();
  test_bytecode();
  if (!failures) printf("test_os_exit: all checks passed\n");
  return failures ? 1 : 0;
}
