/* gb_luaheap.h — a lua_Alloc with free lists for small blocks (see gb_luaheap.c). */
#ifndef GB_LUAHEAP_H
#define GB_LUAHEAP_H

#include <stddef.h>

typedef struct gb_luaheap gb_luaheap;

struct gb_limits;

/* A new, empty heap (NULL when out of memory); free it after lua_close. With `lim` (may be
 * NULL; the caller keeps it alive until after lua_close) it counts the heap's live bytes in
 * lim->lua_bytes and refuses to grow past lim->host_cap. */
gb_luaheap *gb_luaheap_new(struct gb_limits *lim);
void gb_luaheap_free(gb_luaheap *h);
/* The lua_Alloc to pass to lua_newstate with the heap as its ud. */
void *gb_luaheap_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

#endif
