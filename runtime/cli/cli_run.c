/* cli_run.c — protected calls for the gpubp command line: a traceback message handler and
 * lua.c-style Ctrl-C handling (the SIGINT handler sets a Lua hook that raises
 * "interrupted!" at the next call, return or instruction count), plus the quieter handler the
 * REPL installs while it waits for input. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "cli_common.h"

/* The only globals of the program, and only because a signal handler has nothing else to
 * reach: the Lua state that is running (lua.c keeps the same static `globalL`) and the flag
 * the prompt-time handler sets. Written before the handler is installed; read by it. */
static lua_State *gb_cli_running_L = NULL;
static volatile sig_atomic_t gb_cli_sigint_seen = 0;

static void set_handler_save(int sig, void (*handler)(int), struct sigaction *old) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: a blocked read returns EINTR */
  sigaction(sig, &sa, old);
}

static void set_handler(int sig, void (*handler)(int)) {
  set_handler_save(sig, handler, NULL);
}

/* Hook run by Lua after a SIGINT: clear itself and raise the error in the running code. */
static void stop_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

/* SIGINT while Lua runs. lua_sethook is safe to call from a signal handler. The default
 * action is restored first so that a second Ctrl-C ends a program stuck in C code. */
static void on_sigint_running(int sig) {
  int mask = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
  set_handler(sig, SIG_DFL);
  lua_sethook(gb_cli_running_L, stop_hook, mask, 1);
}

static void on_sigint_prompt(int sig) {
  (void)sig;
  gb_cli_sigint_seen = 1;
}

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) { /* error object is not a string */
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

int gb_cli_docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  struct sigaction old;
  gb_cli_running_L = L;
  set_handler_save(SIGINT, on_sigint_running, &old);
  int status = lua_pcall(L, narg, nres, base);
  sigaction(SIGINT, &old, NULL); /* the REPL's flag-only handler, or the default */
  if (lua_gethook(L) == stop_hook) lua_sethook(L, NULL, 0, 0); /* SIGINT came too late */
  lua_remove(L, base);
  return status;
}

int gb_cli_report(lua_State *L, int status, const char *progname) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (msg == NULL) msg = "(error object is not a string)";
    if (progname) fprintf(stderr, "%s: ", progname);
    fprintf(stderr, "%s\n", msg);
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}

void gb_cli_prompt_signals(int on) {
  set_handler(SIGINT, on ? on_sigint_prompt : SIG_DFL);
}

int gb_cli_take_sigint(void) {
  int seen = gb_cli_sigint_seen != 0;
  gb_cli_sigint_seen = 0;
  return seen;
}
