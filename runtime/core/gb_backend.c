/* gb_backend.c — the registry of backends by device kind, and the plugin loader: the first
 * request for a plugin kind opens libgpubp_<kind>.so (beside the binary or library that holds
 * this code, then its install libdir, then the loader's own search path) with dlopen and
 * registers what its entry point returns. A failure is remembered with its reason, so later
 * requests answer at once ("cuda unavailable: <why>") and CPU work goes on. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb_backend.h"
#include "gb_state.h"

#ifndef GB_INSTALL_LIB_REL
#define GB_INSTALL_LIB_REL "lib"
#endif

/* Kind names and whether the kind comes as a plugin; a new backend adds its line here. */
static const struct {
  const char *name;
  bool plugin;
} kinds[GB_NKINDS] = {
    [GB_KIND_CPU] = {"cpu", false},
    [GB_KIND_CUDA] = {"cuda", true},
};

/* the CPU kind starts as the host's memory alone; runtime/cpu registers its kernels */
static _Atomic(const gb_backend *) registry[GB_NKINDS] = {[GB_KIND_CPU] = &gb_host_backend};
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static bool tried[GB_NKINDS];                  /* under load_lock */
static char why_not[GB_NKINDS][GB_ERRLEN / 2]; /* set once, before tried[] */

const char *gb_kind_name(gb_device_kind kind) {
  return (unsigned)kind < GB_NKINDS ? kinds[kind].name : "?";
}

void gb_backend_register(const gb_backend *b) {
  if (b && (unsigned)b->kind < GB_NKINDS)
    atomic_store_explicit(&registry[b->kind], b, memory_order_release);
}

const gb_backend *gb_backend_loaded(gb_device dev) {
  unsigned k = (unsigned)gb_device_kind_of(dev);
  return k < GB_NKINDS ? atomic_load_explicit(&registry[k], memory_order_acquire) : NULL;
}

typedef const gb_backend *(*gb_plugin_entry_fn)(int abi, const char **why);

/* dlopen the first of the candidate paths that exists; *err gets the last real dlerror. */
static void *open_plugin(const char *file, char *tried_dirs, size_t cap, char *err, size_t ecap) {
  Dl_info info;
  char self[PATH_MAX];
  char dirs[2][PATH_MAX + 64];
  int ndirs = 0;
  if (dladdr((void *)&open_plugin, &info) && info.dli_fname && realpath(info.dli_fname, self)) {
    /* the symbols a plugin uses live in this object: make them visible to it even when the
     * embedder opened us with RTLD_LOCAL */
    void *me = dlopen(self, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
    (void)me; /* kept open for the life of the process, like the plugin */
    char *dir = dirname(self);
    snprintf(dirs[ndirs++], sizeof dirs[0], "%s", dir);
    snprintf(dirs[ndirs++], sizeof dirs[0], "%s/../%s", dir, GB_INSTALL_LIB_REL);
  }
  tried_dirs[0] = '\0';
  for (int k = 0; k < ndirs; k++) {
    char path[sizeof dirs[0] + 64];
    size_t len = strlen(tried_dirs);
    if (snprintf(tried_dirs + len, cap - len, "%s%s", len ? ", " : "", dirs[k]) < 0 ||
        snprintf(path, sizeof path, "%s/%s", dirs[k], file) >= (int)sizeof path)
      continue;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h) return h;
    const char *e = dlerror();
    if (e && !strstr(e, "No such file")) { /* it is there but does not load: say why */
      snprintf(err, ecap, "%s", e);
      return NULL;
    }
  }
  void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL); /* LD_LIBRARY_PATH, or already loaded */
  if (!h) {
    const char *e = dlerror();
    if (e && !strstr(e, "No such file")) snprintf(err, ecap, "%s", e);
  }
  return h;
}

static void load_plugin(gb_device_kind kind) {
  char file[64], sym[64], dirs[2 * PATH_MAX + 256], err[GB_ERRLEN / 4];
  snprintf(file, sizeof file, "libgpubp_%s.so", kinds[kind].name);
  snprintf(sym, sizeof sym, "gb_%s_backend_entry", kinds[kind].name);
  err[0] = '\0';
  void *h = open_plugin(file, dirs, sizeof dirs, err, sizeof err);
  if (!h) {
    if (err[0])
      snprintf(why_not[kind], sizeof why_not[kind], "%s", err);
    else if (snprintf(why_not[kind], sizeof why_not[kind], "%s not found (looked in %s)", file,
                      dirs) >= (int)sizeof why_not[kind])
      strcpy(why_not[kind] + sizeof why_not[kind] - 5, "...)");
    return;
  }
  gb_plugin_entry_fn entry = (gb_plugin_entry_fn)dlsym(h, sym);
  if (!entry) {
    snprintf(why_not[kind], sizeof why_not[kind], "%s has no %s", file, sym);
    return;
  }
  const char *why = NULL;
  const gb_backend *b = entry(GB_BACKEND_ABI, &why);
  if (!b || b->abi != GB_BACKEND_ABI || b->kind != kind) {
    snprintf(why_not[kind], sizeof why_not[kind], "%s: %s", file,
             why ? why : "plugin built for another version of gpubp");
    return;
  }
  gb_backend_register(b);
}

void *gb_plugin_symbol(const char *name, const char *sym, char *why, size_t cap) {
  char file[64], dirs[2 * PATH_MAX + 256], err[GB_ERRLEN / 4];
  snprintf(file, sizeof file, "libgpubp_%s.so", name);
  err[0] = '\0';
  pthread_mutex_lock(&load_lock);
  void *h = open_plugin(file, dirs, sizeof dirs, err, sizeof err);
  pthread_mutex_unlock(&load_lock);
  if (!h) {
    if (err[0])
      snprintf(why, cap, "%s", err);
    else
      snprintf(why, cap, "%s not found (looked in %s)", file, dirs);
    return NULL;
  }
  void *f = dlsym(h, sym);
  if (!f) snprintf(why, cap, "%s has no %s", file, sym);
  return f;
}

const gb_backend *gb_backend_get(gb_device_kind kind, const char **why) {
  if ((unsigned)kind >= GB_NKINDS) {
    if (why) *why = "unknown device kind";
    return NULL;
  }
  const gb_backend *b = atomic_load_explicit(&registry[kind], memory_order_acquire);
  if (b) return b;
  pthread_mutex_lock(&load_lock);
  if (!tried[kind]) {
    if (kinds[kind].plugin)
      load_plugin(kind);
    else
      snprintf(why_not[kind], sizeof why_not[kind], "no %s backend registered", kinds[kind].name);
    tried[kind] = true;
  }
  pthread_mutex_unlock(&load_lock);
  b = atomic_load_explicit(&registry[kind], memory_order_acquire);
  if (!b && why) *why = why_not[kind];
  return b;
}

int gb_device_count(gb_device_kind kind, const char **why) {
  const gb_backend *b = gb_backend_get(kind, why);
  if (!b) return 0;
  const char *w = NULL;
  int n = b->device_count(&w);
  if (why) *why = n > 0 ? NULL : (w ? w : "no device");
  return n;
}

gb_status gb_device_check(gb_state *S, gb_device dev) {
  gb_device_kind kind = gb_device_kind_of(dev);
  const char *why = NULL;
  int n = gb_device_count(kind, &why);
  if (n == 0) return gb_errorf(S, GB_EDEVICE, "%s unavailable: %s", gb_kind_name(kind), why);
  if (gb_device_index(dev) >= n) {
    char d[GB_DEVICE_STRLEN];
    return gb_errorf(S, GB_EDEVICE, "%s unavailable: this process sees %d %s device%s",
                     gb_device_name(dev, d), n, gb_kind_name(kind), n == 1 ? "" : "s");
  }
  return GB_OK;
}
