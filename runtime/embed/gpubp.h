/* gpubp.h — the public C embedding API of gpubp (link libgpubp, `pkg-config gpubp` or
 * `find_package(gpubp)` → gpubp::gpubp). In the spirit of lua.h: open a runtime (a Lua 5.4
 * state with the gpubp module loaded), run Lua code in it, copy float32 arrays in and out as
 * tensors, read the last error message, close. This is the only header an embedder needs.
 *
 * Rules that hold for every function below:
 *  - Calls that can fail return a status (GPUBP_OK == 0 on success); none of them exits,
 *    aborts, prints or raises a Lua error into the host. The message of the last failure is
 *    kept on the runtime and read with gpubp_errmsg().
 *  - Lua stack: every call leaves the stack as it found it, except the gpubp_push_* calls
 *    (one value more on success) and gpubp_pcall (as lua_pcall).
 *  - Threads: a runtime (and its lua_State) must be used by one thread at a time; calls on
 *    one runtime from two threads at once are undefined. Separate runtimes share nothing and
 *    may be used from different threads concurrently. A runtime may move between threads if
 *    the host serialises the calls. The library installs no signal handlers.
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
  GPUBP_ERRINIT    /* the gpubp Lua modules could not be loaded */
};

typedef struct gpubp_runtime gpubp_runtime;

/* Options for gpubp_open. Initialise with gpubp_options_init, then set what you need. */
typedef struct gpubp_options {
  const char *device; /* "cpu", "cuda", "cuda:N"; NULL = the module's default (cuda when
                         a GPU is usable, else cpu) */
  int seed_set;       /* nonzero: call gb.manual_seed(seed) after loading */
  int64_t seed;
  int no_global; /* nonzero: do not set the globals `gb` and `help` (require 'gpubp' works) */
} gpubp_options;

/* Fills `opt` with the defaults (module default device, no seeding, global `gb` set). */
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
 * messages (NULL: "=(gpubp_dostring)"). Results are discarded. Errors: GPUBP_ERRFILE,
 * GPUBP_ERRSYNTAX, GPUBP_ERRRUN (message with traceback), GPUBP_ERRMEM. */
GPUBP_API int gpubp_dofile(gpubp_runtime *rt, const char *path);
GPUBP_API int gpubp_dostring(gpubp_runtime *rt, const char *code, const char *chunkname);

/* Like lua_pcall, with a traceback added to error messages: calls the function below the
 * `nargs` arguments on top of the stack. On success the results are on the stack; on error
 * nothing is left (function and arguments popped) and the message is kept for
 * gpubp_errmsg. Use LUA_MULTRET for all results. */
GPUBP_API int gpubp_pcall(gpubp_runtime *rt, int nargs, int nresults);

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
