/* gpubp_sandbox.c — the sandbox of gpubp_options.sandbox: the standard library of the Lua
 * state is cut down (no processes, no environment, no C modules, no bytecode, no debug, no
 * GC switches) and every file a script opens, through io, os, require, dofile/loadfile or
 * gb.save/gb.load/read_idx, must lie inside the folders the host allowed. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>
#include <lualib.h>

#include "gpubp_sandbox.h"
#include "lgb.h"

/* ---- folders --------------------------------------------------------------------------- */

static char **resolve_list(const char *const *dirs, char *err, size_t errlen) {
  size_t n = 0;
  while (dirs && dirs[n])
    n++;
  char **out = calloc(n + 1, sizeof *out);
  if (!out) {
    snprintf(err, errlen, "sandbox: out of memory");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    out[i] = realpath(dirs[i], NULL);
    if (!out[i] || stat(out[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
      snprintf(err, errlen, "sandbox: folder '%s' %s", dirs[i],
               out[i] ? "is not a directory" : strerror(errno));
      for (size_t j = 0; j <= i; j++)
        free(out[j]);
      free(out);
      return NULL;
    }
  }
  return out;
}

static void free_list(char **l) {
  for (size_t i = 0; l && l[i]; i++)
    free(l[i]);
  free(l);
}

int gb_sandbox_init(gb_sandbox *sb, const char *const *read_dirs, const char *const *write_dirs,
                    char *err, size_t errlen) {
  memset(sb, 0, sizeof *sb);
  sb->read_dirs = resolve_list(read_dirs, err, errlen);
  if (!sb->read_dirs) return 0;
  sb->write_dirs = resolve_list(write_dirs, err, errlen);
  if (!sb->write_dirs) {
    gb_sandbox_free(sb);
    return 0;
  }
  return 1;
}

void gb_sandbox_free(gb_sandbox *sb) {
  free_list(sb->read_dirs);
  free_list(sb->write_dirs);
  free(sb->lua_root);
  memset(sb, 0, sizeof *sb);
}

static int inside(const char *real, const char *dir) {
  size_t n = strlen(dir);
  if (n == 1 && dir[0] == '/') return 1;
  return strncmp(real, dir, n) == 0 && (real[n] == '\0' || real[n] == '/');
}

static int inside_any(const char *real, char **dirs) {
  for (size_t i = 0; dirs && dirs[i]; i++)
    if (inside(real, dirs[i])) return 1;
  return 0;
}

/* The path with every symlink resolved. A file that does not exist yet resolves through its
 * folder; a dangling symlink (which a write would follow anywhere) does not resolve. */
static char *resolve_path(const char *path) {
  char *real = realpath(path, NULL);
  if (real || errno != ENOENT) return real;
  struct stat st;
  if (lstat(path, &st) == 0) return NULL; /* exists (a dangling symlink) yet unresolvable */
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) return NULL;
  char *dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
  if (!dir) return NULL;
  char *rdir = realpath(*dir ? dir : "/", NULL);
  free(dir);
  if (!rdir) return NULL;
  size_t n = strlen(rdir) + strlen(base) + 2;
  char *out = malloc(n);
  if (out) snprintf(out, n, "%s/%s", strcmp(rdir, "/") == 0 ? "" : rdir, base);
  free(rdir);
  return out;
}

int gb_sandbox_path_ok(void *ud, const char *path, int write) {
  gb_sandbox *sb = ud;
  char *real = resolve_path(path);
  if (!real) return 0;
  int ok = inside_any(real, sb->write_dirs) || (!write && inside_any(real, sb->read_dirs));
  free(real);
  return ok;
}

static gb_sandbox *sandbox_up(lua_State *L) {
  return lua_touserdata(L, lua_upvalueindex(1));
}

static void check(lua_State *L, const char *path, int write, const char *op) {
  if (!gb_sandbox_path_ok(sandbox_up(L), path, write))
    gbL_error(L, "%s: '%s' is outside the folders this script may %s", op, path,
              write ? "write" : "read");
}

/* ---- replacements ------------------------------------------------------------------------ */

/* Upvalues of every replacement: 1 = the gb_sandbox, 2 = the original function. */
static int call_original(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

static int sb_io_open(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  const char *mode = luaL_optstring(L, 2, "r");
  check(L, path, strpbrk(mode, "wa+") != NULL, "io.open");
  return call_original(L);
}

static int sb_io_lines(lua_State *L) {
  if (lua_isnoneornil(L, 1)) return luaL_error(L, "io.lines: a file name is required here");
  check(L, luaL_checkstring(L, 1), 0, "io.lines");
  return call_original(L);
}

static int sb_io_input(lua_State *L) {
  if (lua_type(L, 1) == LUA_TSTRING) check(L, lua_tostring(L, 1), 0, "io.input");
  return call_original(L);
}

static int sb_io_output(lua_State *L) {
  if (lua_type(L, 1) == LUA_TSTRING) check(L, lua_tostring(L, 1), 1, "io.output");
  return call_original(L);
}

static int sb_os_remove(lua_State *L) {
  check(L, luaL_checkstring(L, 1), 1, "os.remove");
  return call_original(L);
}

static int sb_os_rename(lua_State *L) {
  check(L, luaL_checkstring(L, 1), 1, "os.rename");
  check(L, luaL_checkstring(L, 2), 1, "os.rename");
  return call_original(L);
}

/* load(chunk [, chunkname [, mode [, env]]]) with the mode forced to text */
static int sb_load(lua_State *L) {
  lua_settop(L, 4);
  if (lua_isnil(L, 2)) lua_pushvalue(L, 1), lua_replace(L, 2); /* as load's default name */
  if (lua_type(L, 2) != LUA_TSTRING) lua_pushliteral(L, "=(load)"), lua_replace(L, 2);
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  int noenv = lua_isnone(L, 4) || (lua_isnil(L, 4) && lua_gettop(L) < 4);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_insert(L, 1);
  lua_call(L, noenv ? 3 : 4, LUA_MULTRET);
  return lua_gettop(L);
}

/* loadfile(path [, mode [, env]]): folder rule, text only; no stdin */
static int sb_loadfile(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  check(L, path, 0, "loadfile");
  int envidx = lua_gettop(L) >= 3 ? 3 : 0;
  if (luaL_loadfilex(L, path, "t") != LUA_OK) {
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
  }
  if (envidx) {
    lua_pushvalue(L, envidx);
    if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
  }
  return 1;
}

static int sb_dofile(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  check(L, path, 0, "dofile");
  lua_settop(L, 1);
  if (luaL_loadfilex(L, path, "t") != LUA_OK) return lua_error(L);
  lua_call(L, 0, LUA_MULTRET);
  return lua_gettop(L) - 1;
}

static int sb_collectgarbage(lua_State *L) {
  static const char *const allowed[] = {"collect", "count", "step", "isrunning", NULL};
  const char *opt = luaL_optstring(L, 1, "collect");
  for (int i = 0; allowed[i]; i++)
    if (strcmp(opt, allowed[i]) == 0) return call_original(L);
  return luaL_error(L, "collectgarbage: option '%s' is not available in the sandbox", opt);
}

static int sb_denied(lua_State *L) {
  return luaL_error(L, "%s: not available in the sandbox", lua_tostring(L, lua_upvalueindex(1)));
}

/* The searcher of sandboxed `require`: Lua files on package.path inside the read folders (or
 * gpubp's own Lua folder), loaded as text. Upvalue 2 is package.searchpath. */
static int sb_searcher(lua_State *L) {
  gb_sandbox *sb = sandbox_up(L);
  const char *name = luaL_checkstring(L, 1);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  const char *path = lua_tostring(L, -1);
  if (!path) return luaL_error(L, "package.path must be a string");
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushstring(L, name);
  lua_pushstring(L, path);
  lua_call(L, 2, 2);
  if (lua_isnil(L, -2)) return 1; /* the "no file ..." message */
  lua_pop(L, 1);
  const char *file = lua_tostring(L, -1);
  char *real = file ? realpath(file, NULL) : NULL;
  int ok =
      real && (gb_sandbox_path_ok(sb, real, 0) || (sb->lua_root && inside(real, sb->lua_root)));
  free(real);
  if (!ok) {
    lua_pushfstring(L, "no file '%s' (outside the folders this script may read)", file);
    return 1;
  }
  if (luaL_loadfilex(L, file, "t") != LUA_OK)
    return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, file,
                      lua_tostring(L, -1));
  lua_pushstring(L, file);
  return 2;
}

/* ---- applying it ----------------------------------------------------------------------- */

/* t[field] = closure(fn, sandbox, t[field]); the sandbox is argument 1 of gb_sandbox_apply */
static void wrap(lua_State *L, int t, const char *field, lua_CFunction fn) {
  lua_pushlightuserdata(L, lua_touserdata(L, 1));
  lua_getfield(L, t, field);
  lua_pushcclosure(L, fn, 2);
  lua_setfield(L, t, field);
}

static void deny(lua_State *L, int t, const char *tname, const char *field) {
  if (tname)
    lua_pushfstring(L, "%s.%s", tname, field);
  else
    lua_pushstring(L, field);
  lua_pushcclosure(L, sb_denied, 1);
  lua_setfield(L, t, field);
}

static void lib_table(lua_State *L, const char *name) {
  if (lua_getglobal(L, name) != LUA_TTABLE) luaL_error(L, "sandbox: no '%s' library", name);
}

int gb_sandbox_apply(lua_State *L) {
  gb_sandbox *sb = lua_touserdata(L, 1);
  lua_settop(L, 1);
  gbL_host *h = gbL_host_of(L);
  h->path = gb_sandbox_path_ok;
  h->path_ud = sb;

  lua_pushglobaltable(L); /* 2 */
  wrap(L, 2, "load", sb_load);
  wrap(L, 2, "loadfile", sb_loadfile);
  wrap(L, 2, "dofile", sb_dofile);
  wrap(L, 2, "collectgarbage", sb_collectgarbage);
  lua_pushnil(L);
  lua_setfield(L, 2, "debug");

  lib_table(L, "io"); /* 3 */
  wrap(L, 3, "open", sb_io_open);
  wrap(L, 3, "lines", sb_io_lines);
  wrap(L, 3, "input", sb_io_input);
  wrap(L, 3, "output", sb_io_output);
  deny(L, 3, "io", "popen");
  deny(L, 3, "io", "tmpfile");
  lua_settop(L, 2);

  lib_table(L, "os"); /* 3 */
  wrap(L, 3, "remove", sb_os_remove);
  wrap(L, 3, "rename", sb_os_rename);
  static const char *const os_denied[] = {"execute", "exit",      "getenv",
                                          "tmpname", "setlocale", NULL};
  for (int i = 0; os_denied[i]; i++)
    deny(L, 3, "os", os_denied[i]);
  lua_settop(L, 2);

  /* string: the script gets a copy as `string` (changing it cannot reach the library's
   * methods), and the strings' metatable is locked */
  lib_table(L, "string"); /* 3 */
  lua_newtable(L);        /* 4: the copy */
  lua_pushnil(L);
  while (lua_next(L, 3)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_settable(L, 4);
  }
  deny(L, 4, "string", "dump");
  lua_pushvalue(L, 4);
  lua_setfield(L, 2, "string");
  lua_pushliteral(L, "");
  if (lua_getmetatable(L, -1)) {
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
  }
  lua_settop(L, 4);

  /* package: no C loaders, Lua modules only from the allowed folders */
  lib_table(L, "package"); /* 5 */
  deny(L, 5, "package", "loadlib");
  lua_pushliteral(L, "");
  lua_setfield(L, 5, "cpath");
  lua_getfield(L, 5, "searchpath");
  lua_pushliteral(L, "gpubp");
  lua_getfield(L, 5, "path");
  lua_call(L, 2, 1);
  const char *init = lua_tostring(L, -1); /* .../lua/gpubp/init.lua */
  if (init) {
    char *real = realpath(init, NULL);
    char *cut = real ? strstr(real, "/gpubp/init.lua") : NULL;
    if (cut) {
      *cut = '\0';
      sb->lua_root = real;
    } else
      free(real);
  }
  lua_pop(L, 1);
  lua_getfield(L, 5, "loaded"); /* 6 */
  lua_pushvalue(L, 4);
  lua_setfield(L, 6, "string");
  lua_pushnil(L);
  lua_setfield(L, 6, "debug");
  lua_getfield(L, 5, "searchers"); /* 7 */
  lua_createtable(L, 2, 0);        /* 8: preload searcher, then ours */
  lua_rawgeti(L, 7, 1);
  lua_rawseti(L, 8, 1);
  lua_pushlightuserdata(L, sb);
  lua_getfield(L, 5, "searchpath");
  lua_pushcclosure(L, sb_searcher, 2);
  lua_rawseti(L, 8, 2);
  lua_setfield(L, 5, "searchers");
  lua_settop(L, 1);
  return 0;
}
