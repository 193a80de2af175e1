/* cli_common.h — what the parts of the `gpubp` command-line program share: protected calls
 * with tracebacks and Ctrl-C handling (cli_run.c), the REPL (cli_repl.c) and its Tab
 * completion (cli_complete.c). Private to the executable; embedders use gpubp.h instead. */
#ifndef GB_CLI_COMMON_H
#define GB_CLI_COMMON_H

#include <lua.h>

#define GB_CLI_PROGNAME "gpubp"

/* Calls the function below the `narg` arguments on top of L's stack under lua_pcall, with a
 * traceback message handler, and with SIGINT turned into the Lua error "interrupted!" while
 * it runs (a second Ctrl-C before Lua code notices the first kills the process, as in
 * lua.c). Returns the lua_pcall status; on error the message is left on the stack. */
int gb_cli_docall(lua_State *L, int narg, int nres);
/* The runtime gb_cli_docall runs in and Ctrl-C interrupts (set once, before any call). */
struct gpubp_runtime;
void gb_cli_set_runtime(struct gpubp_runtime *rt);

/* If status is not LUA_OK, prints the message on top of the stack to stderr as
 * "<progname>: <message>" (no prefix when progname is NULL) and pops it. Returns status. */
int gb_cli_report(lua_State *L, int status, const char *progname);

/* Between commands the REPL must not die of a Ctrl-C: gb_cli_prompt_signals(1) installs a
 * SIGINT handler that only records the signal (gb_cli_docall replaces it while code runs and
 * puts it back after); gb_cli_prompt_signals(0) restores the default action.
 * gb_cli_take_sigint() returns whether such a SIGINT arrived since the last call. (While
 * libedit edits a line, ^C is read as a key instead: see cli_repl.c.) */
void gb_cli_prompt_signals(int on);
int gb_cli_take_sigint(void);

/* Runs the interactive loop on L until end of input (Ctrl-D). With a terminal on stdin it
 * uses libedit (line editing, history in ~/.gpubp_history, Tab completion) and shows
 * prompts; otherwise it reads plain lines and shows no prompts. `banner` (may be NULL) is
 * printed first when stdin is a terminal. */
void gb_cli_repl(lua_State *L, const char *banner);

/* Tab completion: for the partial Lua name `word` ("gb.nn.Li", "x:su", "pri"), pushes a
 * sorted array of full completions (each starts with `word`) on L's stack. Never raises:
 * on any error it pushes an empty table. Looks through globals, table fields, metatables'
 * __index tables, and for userdata whose __index is a function, gb._tensor_methods. */
void gb_cli_completions(lua_State *L, const char *word);

#endif
