/* gpubp.c — the `gpubp` command: a lua.c-style runner with the gpubp module preloaded as
 * the global `gb`. Options, the `arg` table and `...` follow lua5.4 exactly; gpubp adds
 * --device and --seed. With no script it starts the REPL (cli_repl.c). The Lua state comes
 * from the embedding API (gpubp_open), so the CLI and embedders share one start-up path. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "cli_common.h"
#include "gpubp.h"

enum { HAS_ERROR = 1, HAS_I = 2, HAS_V = 4, HAS_E = 8, HAS_UPPER_E = 16, HAS_BYTECODE = 32 };

/* Chunk mode for the script, stdin and -e (and, through gpubp_options, for the script's own
 * load/require): text only unless --allow-bytecode, since malformed bytecode can crash. */
#define CHUNK_MODE(flags) ((flags)&HAS_BYTECODE ? NULL : "t")

/* What the command line asked for; `script` indexes argv (== argc: no script). */
typedef struct cli_args {
  int flags;
  int script;
  const char *device;
  const char *seed;
  const char *bad; /* the offending argument when flags has HAS_ERROR */
} cli_args;

static void print_usage(FILE *f) {
  fprintf(f,
          "usage: %s [options] [script [args]]\n"
          "Available options are:\n"
          "  -e stat       execute string 'stat'\n"
          "  -i            enter interactive mode after executing 'script'\n"
          "  -l mod        require library 'mod' into global 'mod' (-l g=mod: into 'g')\n"
          "  -v            show version, build (CUDA, BLAS) and devices\n"
          "  -E            accepted for lua compatibility (gpubp reads no LUA_INIT)\n"
          "  -W            turn warnings on\n"
          "  --device D    default device: cpu | cuda | cuda:N (default: cuda if usable)\n"
          "  --seed N      seed every random generator (gb.manual_seed(N))\n"
          "  --allow-bytecode  also run precompiled Lua chunks (refused by default)\n"
          "  -h, --help    show this help\n"
          "  --            stop handling options\n"
          "  -             stop handling options and execute stdin\n",
          GB_CLI_PROGNAME);
}

/* Option value either glued ("-eSTAT", "--seed=3") or in the next argv entry. A glued empty
 * value ("--seed=") stays empty (an error), never taking the next argument. */
static const char *option_value(char **argv, int *i, const char *glued) {
  if (glued) return glued;
  if (argv[*i + 1] == NULL) return NULL;
  return argv[++*i];
}

/* Mirrors lua.c's collectargs, plus --device/--seed/--help. */
static cli_args collect_args(int argc, char **argv) {
  cli_args a = {0, argc, NULL, NULL, NULL};
  int i;
  for (i = 1; argv[i] != NULL; i++) {
    const char *s = argv[i];
    a.script = i;
    if (s[0] != '-') return a; /* the script */
    a.bad = s;
    if (strcmp(s, "--") == 0) {
      a.script = i + 1;
      return a;
    }
    if (strcmp(s, "-") == 0) return a; /* script "-" is stdin */
    if (strncmp(s, "--device", 8) == 0 && (s[8] == '\0' || s[8] == '=')) {
      a.device = option_value(argv, &i, s[8] == '=' ? s + 9 : NULL);
      if (!a.device || !*a.device) goto bad;
      continue;
    }
    if (strncmp(s, "--seed", 6) == 0 && (s[6] == '\0' || s[6] == '=')) {
      a.seed = option_value(argv, &i, s[6] == '=' ? s + 7 : NULL);
      if (!a.seed || !*a.seed) goto bad;
      continue;
    }
    if (strcmp(s, "--allow-bytecode") == 0) {
      a.flags |= HAS_BYTECODE;
      continue;
    }
    if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
      a.flags |= HAS_ERROR;
      a.bad = NULL; /* help, not an error */
      return a;
    }
    switch (s[1]) {
    case 'E':
      if (s[2] != '\0') goto bad;
      a.flags |= HAS_UPPER_E;
      break;
    case 'W':
      if (s[2] != '\0') goto bad;
      break;
    case 'i':
      a.flags |= HAS_I; /* -i implies -v in lua.c; here the REPL banner says it */
      if (s[2] != '\0') goto bad;
      break;
    case 'v':
      if (s[2] != '\0') goto bad;
      a.flags |= HAS_V;
      break;
    case 'e':
      a.flags |= HAS_E;
      /* fallthrough */
    case 'l':
      if (s[2] == '\0') {
        i++;
        if (argv[i] == NULL || argv[i][0] == '-') goto bad;
      }
      break;
    default: goto bad;
    }
  }
  a.script = argc; /* no script */
  return a;
bad:
  a.flags |= HAS_ERROR;
  return a;
}

/* arg[0] = script, arg[1..] = its arguments, negative indices = interpreter and options;
 * with no script, arg[0] = argv[0] (lua.c's layout). */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
  if (script == argc) script = 0;
  int narg = argc - (script + 1);
  lua_createtable(L, narg > 0 ? narg : 0, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK) status = gb_cli_docall(L, 0, 0);
  return gb_cli_report(L, status, GB_CLI_PROGNAME);
}

/* -l mod  → global mod = require 'mod';  -l g=mod → global g = require 'mod'. */
static int dolibrary(lua_State *L, const char *spec) {
  const char *eq = strchr(spec, '=');
  const char *mod = eq ? eq + 1 : spec;
  lua_getglobal(L, "require");
  lua_pushstring(L, mod);
  int status = gb_cli_docall(L, 1, 1);
  if (status == LUA_OK) {
    if (eq) {
      lua_pushlstring(L, spec, (size_t)(eq - spec));
      lua_insert(L, -2);
      lua_setglobal(L, lua_tostring(L, -2));
      lua_pop(L, 1);
    } else {
      lua_setglobal(L, mod);
    }
  }
  return gb_cli_report(L, status, GB_CLI_PROGNAME);
}

/* Runs -e and -l (and -W) in command-line order, up to the first non-option. */
static int run_args(lua_State *L, char **argv, int optlim, const char *chunk_mode) {
  for (int i = 1; i < optlim; i++) {
    const char *s = argv[i];
    if (strncmp(s, "--device", 8) == 0 || strncmp(s, "--seed", 6) == 0) {
      if (strchr(s, '=') == NULL) i++; /* skip the separate value */
      continue;
    }
    if (s[1] == 'e' || s[1] == 'l') {
      const char *extra = s + 2;
      if (*extra == '\0') extra = argv[++i];
      int status =
          s[1] == 'e'
              ? dochunk(L, luaL_loadbufferx(L, extra, strlen(extra), "=(command line)", chunk_mode))
              : dolibrary(L, extra);
      if (status != LUA_OK) return 0;
    } else if (s[1] == 'W') {
      lua_warning(L, "@on", 0);
    }
  }
  return 1;
}

static int push_script_args(lua_State *L) {
  if (lua_getglobal(L, "arg") != LUA_TTABLE) luaL_error(L, "'arg' is not a table");
  int n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  int i;
  for (i = 1; i <= n; i++)
    lua_rawgeti(L, -i, i);
  lua_remove(L, -i);
  return n;
}

/* luaL_loadfilex in chunk_mode; a refused binary chunk names the file and the way out. */
static int load_script(lua_State *L, const char *fname, const char *chunk_mode) {
  int status = luaL_loadfilex(L, fname, chunk_mode);
  if (status == LUA_ERRSYNTAX && strstr(lua_tostring(L, -1), "attempt to load a binary chunk")) {
    lua_pop(L, 1);
    lua_pushfstring(L, "%s: precompiled (binary) chunk refused; --allow-bytecode runs it",
                    fname ? fname : "stdin");
  }
  return status;
}

static int handle_script(lua_State *L, char **argv, const char *chunk_mode) {
  const char *fname = argv[0];
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0) fname = NULL; /* stdin */
  int status = load_script(L, fname, chunk_mode);
  if (status == LUA_OK) {
    int n = push_script_args(L);
    status = gb_cli_docall(L, n, LUA_MULTRET);
  }
  return gb_cli_report(L, status, GB_CLI_PROGNAME);
}

/* Calls gb.<name>(...) on the module in package.loaded; leaves one result (nil on error). */
static void module_call(lua_State *L, const char *code) {
  if (luaL_loadstring(L, code) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
}

static void print_version(lua_State *L) {
  printf("gpubp %s (%s)\n", gpubp_version(), LUA_RELEASE);
  module_call(L,
              "local gb = require 'gpubp'\n"
              "local info = gb.build_info and gb.build_info() or ''\n"
              "local n = gb.cuda and gb.cuda.device_count and gb.cuda.device_count() or 0\n"
              "local devs = {'cpu'}\n"
              "for i = 0, n - 1 do\n"
              "  local ok, name = pcall(gb.cuda.get_device_name, i)\n"
              "  devs[#devs + 1] = 'cuda:' .. i .. (ok and name and ' (' .. name .. ')' or '')\n"
              "end\n"
              "local s = tostring(info)\n"
              "if s ~= '' and s:sub(-1) ~= '\\n' then s = s .. '\\n' end\n"
              "s = s .. 'devices: ' .. table.concat(devs, ', ')\n"
              "local why = gb.cuda and gb.cuda.why_unavailable and gb.cuda.why_unavailable()\n"
              "if n == 0 and why then s = s .. ' (cuda unavailable: ' .. why .. ')' end\n"
              "local dok, dwhy = gb.distributed.is_available()\n"
              "s = s .. '\\ndistributed: ' .. (dok and dwhy or 'unavailable: ' .. tostring(dwhy))\n"
              "return s");
  if (lua_isstring(L, -1)) printf("%s\n", lua_tostring(L, -1));
  lua_pop(L, 1);
  fflush(stdout);
}

/* Banner of the REPL: version and the default device. Left on the stack as a string. */
static void push_banner(lua_State *L) {
  module_call(L, "local gb = require 'gpubp'\n"
                 "local ok, dev = pcall(function()\n"
                 "  if gb.get_default_device then return gb.get_default_device() end\n"
                 "  return gb.zeros(1).device end)\n"
                 "return 'device: ' .. (ok and tostring(dev) or '?')");
  lua_pushfstring(L, "gpubp %s (%s) -- %s -- Ctrl-D exits, Tab completes", gpubp_version(),
                  LUA_RELEASE, lua_isstring(L, -1) ? lua_tostring(L, -1) : "device: ?");
  lua_remove(L, -2);
}

typedef struct main_ctx {
  int argc;
  char **argv;
  cli_args args;
} main_ctx;

/* The body of main, run under lua_pcall so a memory error cannot escape. Pushes true when
 * everything ran without error. */
static int pmain(lua_State *L) {
  main_ctx *m = lua_touserdata(L, 1);
  char **argv = m->argv;
  int argc = m->argc;
  int script = m->args.script;
  int flags = m->args.flags;
  int optlim = script < argc ? script : argc;
  if (flags & HAS_V) print_version(L);
  create_arg_table(L, argv, argc, script);
  const char *chunk_mode = CHUNK_MODE(flags);
  if (!run_args(L, argv, optlim, chunk_mode)) return 0;
  if (script < argc && handle_script(L, argv + script, chunk_mode) != LUA_OK) return 0;
  if (flags & HAS_I) {
    push_banner(L);
    gb_cli_repl(L, lua_tostring(L, -1));
  } else if (script == argc && !(flags & (HAS_E | HAS_V))) {
    if (isatty(STDIN_FILENO)) {
      push_banner(L);
      gb_cli_repl(L, lua_tostring(L, -1));
    } else {
      if (dochunk(L, load_script(L, NULL, chunk_mode)) != LUA_OK) return 0; /* stdin */
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

int main(int argc, char **argv) {
  cli_args a = collect_args(argc, argv);
  if (a.flags & HAS_ERROR) {
    if (a.bad == NULL) {
      print_usage(stdout);
      return EXIT_SUCCESS;
    }
    fprintf(stderr, "%s: unrecognized option or missing value '%s'\n", GB_CLI_PROGNAME, a.bad);
    print_usage(stderr);
    return EXIT_FAILURE;
  }
  gpubp_options opt;
  gpubp_options_init(&opt);
  opt.device = a.device;
  opt.allow_exit = 1; /* the command line is the host: os.exit keeps Lua's meaning */
  opt.allow_bytecode = (a.flags & HAS_BYTECODE) != 0;
  opt.interrupt_sets_hook = 1; /* Ctrl-C comes as a signal on this thread (cli_run.c) */
  if (a.seed) {
    char *end;
    errno = 0;
    long long v = strtoll(a.seed, &end, 0);
    if (errno != 0 || *end != '\0') {
      fprintf(stderr, "%s: --seed wants an integer, got '%s'\n", GB_CLI_PROGNAME, a.seed);
      return EXIT_FAILURE;
    }
    opt.seed_set = 1;
    opt.seed = (int64_t)v;
  }
  gpubp_runtime *rt = NULL;
  if (gpubp_open(&opt, &rt) != GPUBP_OK) {
    fprintf(stderr, "%s: %s\n", GB_CLI_PROGNAME, rt ? gpubp_errmsg(rt) : "not enough memory");
    gpubp_close(rt);
    return EXIT_FAILURE;
  }
  gb_cli_set_runtime(rt);
  lua_State *L = gpubp_lua(rt);
  main_ctx m = {argc, argv, a};
  lua_pushcfunction(L, pmain);
  lua_pushlightuserdata(L, &m);
  int status = lua_pcall(L, 1, 1, 0);
  int ok = status == LUA_OK && lua_toboolean(L, -1);
  if (status != LUA_OK) gb_cli_report(L, status, GB_CLI_PROGNAME);
  gpubp_close(rt);
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
