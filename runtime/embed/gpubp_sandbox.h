/* gpubp_sandbox.h — the restricted standard library of a sandboxed runtime (private to
 * runtime/embed): which folders a script may read and write, and the function that turns a
 * freshly opened Lua state into a sandbox. */
#ifndef GPUBP_SANDBOX_H
#define GPUBP_SANDBOX_H

#include <lua.h>

typedef struct gb_sandbox {
  char **read_dirs;  /* resolved (realpath) folders, NULL-terminated; reading also allowed */
  char **write_dirs; /* in every write_dir */
  char *lua_root;    /* the folder holding gpubp/init.lua: `require` may load from it */
} gb_sandbox;

/* Resolves the host's folder lists (NULL-terminated, either may be NULL) into *sb. A folder
 * that does not exist is an error: returns 0 and writes why into err. */
int gb_sandbox_init(gb_sandbox *sb, const char *const *read_dirs, const char *const *write_dirs,
                    char *err, size_t errlen);
void gb_sandbox_free(gb_sandbox *sb);

/* The folder rule: nonzero when `path` (resolved, symlinks followed) lies inside a write
 * folder, or for reading (write == 0) inside a read or write folder. */
int gb_sandbox_path_ok(void *sb, const char *path, int write);

/* lua_CFunction, called with the gb_sandbox as light userdata: restricts the state's
 * standard library (docs/embedding.md lists what goes) and installs the folder rule for
 * gb.save/gb.load/read_idx. Call after `require 'gpubp'`; raises on out of memory. */
int gb_sandbox_apply(lua_State *L);

#endif
