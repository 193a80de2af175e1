/* gpubp_guard.h — private to libgpubp: the load and exit guards gpubp_open installs in every
 * runtime (gpubp_guard.c). Not part of the public API; embedders set gpubp_options. */
#ifndef GPUBP_GUARD_H
#define GPUBP_GUARD_H

struct lua_State;

/* Unless allow_bytecode: load/loadfile/dofile/require accept only text chunks. Unless
 * allow_exit: os.exit raises "os.exit(N) refused: ..." instead of exiting. Call once, after
 * luaL_openlibs. Raises only on memory errors (call it protected). */
void gpubp_guard_install(struct lua_State *L, int allow_bytecode, int allow_exit);

#endif
