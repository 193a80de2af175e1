/* gb_luaheap.c — the allocator of gpubp's Lua states: small blocks (every tensor userdata,
 * short strings, closures) come from per-size free lists instead of malloc, so the
 * allocate-collect cycle of a training loop's temporaries skips malloc's bookkeeping.
 * Larger blocks go to realloc/free as in Lua's default allocator. With limits attached it
 * counts Lua's live bytes and refuses growth past the runtime's host-byte budget (Lua then
 * collects and retries, or raises "not enough memory"). */
#include <stdlib.h>
#include <string.h>

#include "gb_limits.h"
#include "gb_luaheap.h"

#define GRAIN 16             /* size classes are multiples of 16 bytes */
#define NCLASS 16            /* up to 256 bytes */
#define KEEP_PER_CLASS 65536 /* blocks kept per class; beyond that they go back to free() */

typedef struct block {
  struct block *next;
} block;

struct gb_luaheap {
  block *bins[NCLASS];
  int count[NCLASS];
  gb_limits *lim; /* NULL: no accounting */
};

static int class_of(size_t n) {
  return n == 0 || n > GRAIN * NCLASS ? -1 : (int)((n - 1) / GRAIN);
}

gb_luaheap *gb_luaheap_new(gb_limits *lim) {
  gb_luaheap *h = calloc(1, sizeof(gb_luaheap));
  if (h) h->lim = lim;
  return h;
}

/* Accounts a change from osize to nsize bytes; false refuses a growth past the budget. */
static int account(gb_limits *lim, size_t osize, size_t nsize) {
  int64_t delta = (int64_t)nsize - (int64_t)osize;
  if (delta > 0 && lim->host_cap &&
      lim->lua_bytes + (lim->cpu ? lim->cpu->allocated : 0) + delta > lim->host_cap) {
    lim->lua_refused = true;
    return 0;
  }
  lim->lua_bytes += delta;
  return 1;
}

void gb_luaheap_free(gb_luaheap *h) {
  if (!h) return;
  for (int c = 0; c < NCLASS; c++)
    while (h->bins[c]) {
      block *b = h->bins[c];
      h->bins[c] = b->next;
      free(b);
    }
  free(h);
}

static void *take(gb_luaheap *h, int c) {
  block *b = h->bins[c];
  if (b) {
    h->bins[c] = b->next;
    h->count[c]--;
    return b;
  }
  return malloc((size_t)(c + 1) * GRAIN);
}

static void give(gb_luaheap *h, int c, void *p) {
  if (h->count[c] >= KEEP_PER_CLASS) {
    free(p);
    return;
  }
  block *b = p;
  b->next = h->bins[c];
  h->bins[c] = b;
  h->count[c]++;
}

/* lua_Alloc: when ptr is not NULL, osize is the block's size (Lua 5.4 manual, lua_Alloc). */
void *gb_luaheap_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  gb_luaheap *h = ud;
  int oc = ptr ? class_of(osize) : -1, nc = class_of(nsize);
  if (h->lim && !account(h->lim, ptr ? osize : 0, nsize)) return NULL;
  if (nsize == 0) {
    if (oc >= 0)
      give(h, oc, ptr);
    else
      free(ptr);
    return NULL;
  }
  if (ptr && oc == nc && oc >= 0) return ptr; /* same class: the block already fits */
  if (ptr && oc < 0 && nc < 0) {
    void *q = realloc(ptr, nsize);
    if (!q && h->lim) account(h->lim, nsize, osize); /* undo: the old block stays */
    return q;
  }
  void *q = nc >= 0 ? take(h, nc) : malloc(nsize);
  if (!q) { /* Lua keeps the old block on failure */
    if (h->lim) account(h->lim, nsize, ptr ? osize : 0);
    return NULL;
  }
  if (ptr) {
    memcpy(q, ptr, osize < nsize ? osize : nsize);
    if (oc >= 0)
      give(h, oc, ptr);
    else
      free(ptr);
  }
  return q;
}
