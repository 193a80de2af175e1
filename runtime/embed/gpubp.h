/* gpubp.h — the public C embedding API of gpubp (link libgpubp, `pkg-config gpubp` or
 * `find_package(gpubp)` → gpubp::gpubp). In the spirit of lua.h: open a runtime (a Lua 5.4
 * state with the gpubp module loaded), run Lua code in it, copy arrays in and out as tensors
 * (or wrap them without a copy), cap what a script may use, interrupt it, sandbox it, let it
 * call the host, read the last error message, close. This is the only header an embedder needs.
 *
 * Rules that hold for every function below:
 *  - Calls that can fail return a status (GPUBP_OK == 0 on success); none of them exits,
 *    aborts, prints or raises a Lua error into the host. The message of the last failure is
 *    kept on the runtime and read with gpubp_errmsg().
 *  - Lua stack: every call leaves the stack as it found it, except the gpubp_push_* calls
 *    (one value more on success) and gpubp_pcall (as lua_pcall).
 *  - Threads: a runtime (and its lua_State) must be used by one thread at a time; calls on
 *    one runtime from two threads at once are undefined, except gpubp_interrupt, which any
 *    thread or signal handler may call while the runtime runs. Separate runtimes share
 *    nothing and may be used from different threads concurrently. A runtime may move between
 *    threads if the host serialises the calls. Release callbacks and the metrics hook run on
 *    the thread running the script. The library installs no signal handlers.
 *  - Budgets, interruption, the sandbox, callbacks and zero-copy tensors: docs/embedding.md.
 *  - Several runtimes can live in one process; each has its own Lua state, its own gpubp
 *    state (allocator caches, random generator, default device) and its own error message.
 */
#ifndef GPUBP_H
#define GPUBP_H

#include <stddef.h>
#include <stdint.h>

/* lua.h's state type, declared by its struct tag so this header needs no Lua headers and
 * never repeats lua.h's typedef (include lua.h or lua.hpp to use the state). */
struct lua_State;

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GPUBP_API __attribute__((visibility("default")))
#else
#define GPUBP_API
#endif

#define GPUBP_VERSION_MAJOR 0
#define GPUBP_VERSION_MINOR 1
/* The most dimensions a tensor can have: size of the `shape` arrays passed to this API. */
#define GPUBP_MAXDIM 8

/* Status codes returned by the calls below. */
enum {
  GPUBP_OK = 0,
  GPUBP_ERRRUN,    /* a Lua error while running code (message includes a traceback) */
  GPUBP_ERRSYNTAX, /* Lua source did not compile */
  GPUBP_ERRMEM,    /* out of memory */
  GPUBP_ERRFILE,   /* a file could not be opened or read */
  GPUBP_ERRARG,    /* bad argument to the API (NULL, ndim/shape out of range, buffer small) */
  GPUBP_ERRTYPE,   /* the value is not what was asked for (not a tensor, not a number) */
  GPUBP_ERRDEVICE, /* the requested device is unknown or unusable */
  GPUBP_ERRINIT,   /* the gpubp Lua modules could not be loaded */
  GPUBP_ERRLIMIT   /* interrupted (gpubp_interrupt), or a time/instruction budget ran out */
};

/* Element types of tensors handed across this API. */
enum { GPUBP_FLOAT32 = 0, GPUBP_INT32 = 1, GPUBP_INT64 = 2, GPUBP_FLOAT64 = 3 };

typedef struct gpubp_runtime gpubp_runtime;

/* Budgets of a runtime; 0 means no cap. Going over one is a Lua error in the script (which
 * it may catch; the time and instruction budgets fire again at the next check, so a script
 * cannot run on by catching them); the runtime stays usable. See docs/embedding.md. */
typedef struct gpubp_budget {
  int64_t host_bytes;   /* Lua heap + CPU tensor bytes: "out of memory: runtime budget of N
                           bytes exceeded (...)" (status GPUBP_ERRMEM) */
  int64_t device_bytes; /* bytes of tensors on devices: "... budget of N device bytes ..." */
  int64_t instructions; /* Lua VM instructions per top-level call, counted in steps of 1000:
                           "instruction budget of N exceeded" (GPUBP_ERRLIMIT) */
  double seconds;       /* wall time per top-level call: "time budget of S s exceeded" */
} gpubp_budget;

/* Options for gpubp_open. Initialise with gpubp_options_init, then set what you need. */
typedef struct gpubp_options {
  const char *device; /* "cpu", "cuda", "cuda:N"; NULL = the module's default (cuda when
                         a GPU is usable, else cpu) */
  int seed_set;       /* nonzero: call gb.manual_seed(seed) after loading */
  int64_t seed;
  int no_global;       /* nonzero: do not set the globals `gb` and `help` (require 'gpubp' works) */
  int allow_bytecode;  /* nonzero: gpubp_dofile and the script's load, loadfile, dofile and
                          require also accept precompiled (binary) chunks. Default: refused,
                          since malformed bytecode can crash the process (docs/reliability.md) */
  int allow_exit;      /* nonzero: os.exit ends the process as in plain Lua (the gpubp command
                          sets this). Default: os.exit raises a Lua error, so a script cannot
                          end its host: "os.exit(N) refused: this is an embedded ..." */
  gpubp_budget budget; /* caps: bytes from the start (the modules' load counts), time and
                          instructions from the first call after open */
  /* Sandbox: nonzero runs scripts with a restricted standard library (no os.execute,
   * io.popen, os.exit, os.getenv, C modules, bytecode, debug, GC switches, string.dump);
   * files may be opened (io, os.remove/rename, require, dofile, gb.save/gb.load/read_idx)
   * only inside read_dirs (reading) and write_dirs (reading and writing). */
  int sandbox;
  const char *const *read_dirs;  /* NULL-terminated list of folders, or NULL */
  const char *const *write_dirs; /* NULL-terminated list of folders, or NULL */
  /* Nonzero: gpubp_interrupt also sets a Lua hook, so plain Lua loops stop too. Then
   * gpubp_interrupt may only be called from the thread running the script or from a signal
   * handler running on it (as lua.c does); the gpubp command line sets this. */
  int interrupt_sets_hook;
} gpubp_options;

/* Fills `opt` with the defaults (module default device, no seeding, global `gb` set, no
 * bytecode, os.exit refused). */
GPUBP_API void gpubp_options_init(gpubp_options *opt);

/* Opens a runtime: a fresh Lua state with the standard libraries and `require 'gpubp'`
 * loaded (as the global `gb` unless opt->no_global), the device and seed applied.
 * `opt` may be NULL for the defaults. On success *out is the runtime and GPUBP_OK is
 * returned. On failure a status is returned and *out is still set (like sqlite3_open) so
 * gpubp_errmsg(*out) explains it, unless memory ran out (then *out is NULL); either way the
 * caller passes *out to gpubp_close. */
GPUBP_API int gpubp_open(const gpubp_options *opt, gpubp_runtime **out);

/* Closes the runtime: the Lua state, its tensors and device memory. NULL is allowed.
 * Always returns GPUBP_OK. */
GPUBP_API int gpubp_close(gpubp_runtime *rt);

/* The runtime's Lua state, for direct use with the Lua C API (stay balanced; use
 * gpubp_pcall or lua_pcall so errors do not escape). Owned by the runtime. */
GPUBP_API struct lua_State *gpubp_lua(gpubp_runtime *rt);

/* The message of the last failed call on `rt` ("" if none; "out of memory" for NULL).
 * Valid until the next call on `rt`. */
GPUBP_API const char *gpubp_errmsg(const gpubp_runtime *rt);

/* A short name for a status code ("ok", "runtime error", ...). Never NULL. */
GPUBP_API const char *gpubp_status_string(int status);

/* The library version, e.g. "0.1.0". */
GPUBP_API const char *gpubp_version(void);

/* Runs a Lua file (path; NULL = stdin) or a string. `chunkname` names the string chunk in
 * messages (NULL: "=(gpubp_dostring)"). Results are discarded. Only source text is accepted
 * (a precompiled chunk is GPUBP_ERRSYNTAX "attempt to load a binary chunk (mode is 't')"),
 * except that gpubp_dofile accepts one when the runtime was opened with allow_bytecode.
 * Errors: GPUBP_ERRFILE, GPUBP_ERRSYNTAX, GPUBP_ERRRUN (message with traceback),
 * GPUBP_ERRMEM. */
GPUBP_API int gpubp_dofile(gpubp_runtime *rt, const char *path);
GPUBP_API int gpubp_dostring(gpubp_runtime *rt, const char *code, const char *chunkname);

/* Like lua_pcall, with a traceback added to error messages: calls the function below the
 * `nargs` arguments on top of the stack. On success the results are on the stack; on error
 * nothing is left (function and arguments popped) and the message is kept for
 * gpubp_errmsg. Use LUA_MULTRET for all results. */
GPUBP_API int gpubp_pcall(gpubp_runtime *rt, int nargs, int nresults);

/* ---- budgets, interruption, host callbacks ----------------------------------------------- */

/* Replaces the runtime's budgets (all four fields; 0 = no cap). Takes effect at once for the
 * byte caps and at the next top-level call for time and instructions. */
GPUBP_API int gpubp_set_budget(gpubp_runtime *rt, const gpubp_budget *budget);

/* What the runtime uses now. host_bytes = lua_bytes + tensor_bytes (+ cached_bytes, which
 * the allocator drops first when the budget is reached). */
typedef struct gpubp_usage {
  int64_t host_bytes, lua_bytes, tensor_bytes, cached_bytes, device_bytes;
  int64_t instructions; /* counted during the current/last top-level call (with a budget) */
} gpubp_usage;
GPUBP_API int gpubp_get_usage(gpubp_runtime *rt, gpubp_usage *out);

/* Asks the running script to stop: at its next safe point (an op boundary, a chunk boundary
 * of a long CPU loop, a budget hook check; any Lua instruction with interrupt_sets_hook) it
 * raises the Lua error "interrupted", which the script may catch; every later op of the same
 * top-level call raises it again, and the call returns GPUBP_ERRLIMIT. Thread-safe and
 * async-signal-safe (an atomic store; see interrupt_sets_hook for its one exception). When
 * no script runs it does nothing: each top-level call starts cleared. NULL is ignored. */
GPUBP_API void gpubp_interrupt(gpubp_runtime *rt);

/* A C function scripts can call, as the global `name` (an identifier). Called as a
 * lua_CFunction with the host's `ud`: read arguments from L, push results, return their
 * count; it may raise errors with luaL_error (the script sees them as Lua errors). */
typedef int (*gpubp_cfunction)(struct lua_State *L, void *ud);
GPUBP_API int gpubp_register(gpubp_runtime *rt, const char *name, gpubp_cfunction fn, void *ud);

/* The metrics hook: gb.host_metric(name, step, value) — called by gb.utils.Logger for every
 * scalar it records — calls fn(ud, name, step, value) on the script's thread. `name` is
 * valid during the call only. fn must not call back into the runtime. NULL fn removes it. */
typedef void (*gpubp_metric_fn)(void *ud, const char *name, int64_t step, double value);
GPUBP_API int gpubp_set_metrics_hook(gpubp_runtime *rt, gpubp_metric_fn fn, void *ud);

/* ---- tensors in and out ------------------------------------------------------------------ */

/* Zero-copy: a tensor over the host's memory `data` (dtype GPUBP_*, on `device`: "cpu"
 * (NULL) or "cuda:N" for a device pointer the host owns), shape[0..ndim-1], strides in
 * elements (>= 0; NULL = row-major contiguous). Stored in the global `name`, or pushed on
 * the stack when name is NULL. The script reads and writes that memory directly (in-place
 * ops write through). On success the runtime calls release(ud, data) exactly once, on the
 * script's thread, when the last tensor viewing the memory dies (at the latest in
 * gpubp_close); release may be NULL. On failure release is never called and the host keeps
 * the memory. The memory must stay valid and unmoved until release is called; it does not
 * count against the host-byte budget. */
typedef void (*gpubp_release_fn)(void *ud, void *data);
GPUBP_API int gpubp_wrap_tensor(gpubp_runtime *rt, const char *name, void *data, int dtype,
                                const char *device, int ndim, const int64_t *shape,
                                const int64_t *strides, gpubp_release_fn release, void *ud);

/* Copy in with a dtype: as gpubp_set_tensor/gpubp_push_tensor below, for data of dtype
 * GPUBP_FLOAT32, GPUBP_FLOAT64 (double), GPUBP_INT32 or GPUBP_INT64 (labels go in as int64
 * directly). */
GPUBP_API int gpubp_set_tensor_typed(gpubp_runtime *rt, const char *name, const void *data,
                                     int dtype, int ndim, const int64_t *shape);
GPUBP_API int gpubp_push_tensor_typed(gpubp_runtime *rt, const void *data, int dtype, int ndim,
                                      const int64_t *shape);
/* Copy out with a dtype: as gpubp_get_tensor/gpubp_to_tensor below, into a buffer of
 * `dtype` with room for `cap` elements. GPUBP_FLOAT32 and GPUBP_FLOAT64 (double) take any
 * tensor (float64 -> float32 rounds; int64 -> double is exact below 2^53); GPUBP_INT64 takes
 * int32 and int64 tensors; GPUBP_INT32 takes int32, and int64 whose values fit (else
 * GPUBP_ERRARG naming the element). A float tensor copied out as an integer type is
 * GPUBP_ERRTYPE (convert it in Lua, e.g. t:long()). */
GPUBP_API int gpubp_get_tensor_typed(gpubp_runtime *rt, const char *name, void *buf, int dtype,
                                     size_t cap, int *ndim, int64_t *shape, size_t *numel);
GPUBP_API int gpubp_to_tensor_typed(gpubp_runtime *rt, int idx, void *buf, int dtype, size_t cap,
                                    int *ndim, int64_t *shape, size_t *numel);

/* Copy in: makes a float32 tensor of shape shape[0..ndim-1] (0 <= ndim <= GPUBP_MAXDIM,
 * sizes >= 0) from `data` (row-major, product-of-shape floats; may be NULL only when that
 * product is 0), on the runtime's default device. The data is copied: the caller keeps
 * ownership of `data`. gpubp_set_tensor stores it in the global `name`;
 * gpubp_push_tensor pushes it on the Lua stack. */
GPUBP_API int gpubp_set_tensor(gpubp_runtime *rt, const char *name, const float *data, int ndim,
                               const int64_t *shape);
GPUBP_API int gpubp_push_tensor(gpubp_runtime *rt, const float *data, int ndim,
                                const int64_t *shape);

/* Copy out: reads the tensor in global `name` (or at stack slot `idx`), on any device and of
 * any dtype (converted to float), into `buf` in row-major order. `shape` must have room for
 * GPUBP_MAXDIM entries; *ndim and shape receive the tensor's shape, and *numel (if not
 * NULL) its element count. With buf == NULL only the shape is returned (a size query).
 * Errors: GPUBP_ERRTYPE (not a tensor), GPUBP_ERRARG (cap < numel: nothing is copied but
 * the shape is still returned), GPUBP_ERRRUN (moving it to the host failed). */
GPUBP_API int gpubp_get_tensor(gpubp_runtime *rt, const char *name, float *buf, size_t cap,
                               int *ndim, int64_t *shape, size_t *numel);
GPUBP_API int gpubp_to_tensor(gpubp_runtime *rt, int idx, float *buf, size_t cap, int *ndim,
                              int64_t *shape, size_t *numel);

/* Reads the number in global `name` into *out; a one-element tensor counts as a number
 * (its item()). Errors: GPUBP_ERRTYPE. */
GPUBP_API int gpubp_get_number(gpubp_runtime *rt, const char *name, double *out);

/* Devices. gpubp_device_available: is `device` ("cpu", "cuda", "cuda:N") usable in this
 * process? GPUBP_OK, or GPUBP_ERRDEVICE with *why (if not NULL) set to the reason, e.g.
 * "cuda unavailable: no NVIDIA driver found, ..." (valid until the next call from this
 * thread), or GPUBP_ERRARG for a name that is no device. Needs no runtime; asking for a cuda
 * device opens the CUDA plugin (once per process), asking for cpu opens nothing.
 * gpubp_set_device: make `device` the runtime's default (as gb.set_default_device); on
 * GPUBP_ERRDEVICE gpubp_errmsg(rt) says why and the default is unchanged. */
GPUBP_API int gpubp_device_available(const char *device, const char **why);
GPUBP_API int gpubp_set_device(gpubp_runtime *rt, const char *device);

#ifdef __cplusplus
}
#endif

#endif
