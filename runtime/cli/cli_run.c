/* cli_run.c — protected calls for the gpubp command line through the embedding API
 * (gpubp_pcall: traceback, budgets) and Ctrl-C handling through gpubp_interrupt (the script
 * stops with "interrupted" at its next instruction or op), plus the quieter handler the REPL
 * installs while it waits for input. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "cli_common.h"
#include "gpubp.h"

/* The only globals of the program, and only because a signal handler has nothing else to
 * reach: the runtime whose script runs (set once by main) and the flag the prompt-time
 * handler sets. Written before the handlers are installed; read by them. */
static gpubp_runtime *gb_cli_rt = NULL;
static volatile sig_atomic_t gb_cli_sigint_seen = 0;

void gb_cli_set_runtime(gpubp_runtime *rt) {
  gb_cli_rt = rt;
}

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

/* SIGINT while Lua runs: the embedding API's interrupt, the same an embedder's watchdog
 * uses (the runtime is opened with interrupt_sets_hook, so plain Lua loops stop too). The
 * default action is restored first so that a second Ctrl-C ends a program stuck in C code
 * that reaches no safe point. */
static void on_sigint_running(int sig) {
  set_handler(sig, SIG_DFL);
  gpubp_interrupt(gb_cli_rt);
}

static void on_sigint_prompt(int sig) {
  (void)sig;
  gb_cli_sigint_seen = 1;
}

int gb_cli_docall(lua_State *L, int narg, int nres) {
  struct sigaction old;
  set_handler_save(SIGINT, on_sigint_running, &old);
  int st = gpubp_pcall(gb_cli_rt, narg, nres); /* adds a traceback; the interrupt resets */
  sigaction(SIGINT, &old, NULL);               /* the REPL's flag-only handler, or the default */
  if (st == GPUBP_OK) return LUA_OK;
  lua_pushstring(L, gpubp_errmsg(gb_cli_rt)); /* the error object, as lua_pcall leaves it */
  return st == GPUBP_ERRMEM ? LUA_ERRMEM : LUA_ERRRUN;
}

/* A failing script of a distributed run tells the other ranks (their collectives raise its
 * message instead of waiting): gb.distributed.abort with the error's first line. */
static void abort_process_group(lua_State *L, const char *msg) {
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  int dist = lua_getfield(L, -1, "gpubp.distributed");
  lua_remove(L, -2);
  if (dist != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  const char *nl = strchr(msg, '\n');
  lua_pushlstring(L, msg, nl ? (size_t)(nl - msg) : strlen(msg));
  if (luaL_loadstring(L, "local d, m = ...\n"
                         "if d.is_initialized() then d.abort(m) end") == LUA_OK) {
    lua_insert(L, -3);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) lua_pop(L, 1);
  } else {
    lua_pop(L, 3);
  }
}

int gb_cli_report(lua_State *L, int status, const char *progname) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (msg == NULL) msg = "(error object is not a string)";
    if (progname) fprintf(stderr, "%s: ", progname);
    fprintf(stderr, "%s\n", msg);
    fflush(stderr);
    if (progname) abort_process_group(L, msg);
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
