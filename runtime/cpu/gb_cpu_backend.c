/* gb_cpu_backend.c — the CPU as a backend: the CPU column of gb_ops.def as its kernel table,
 * over the host allocator of the core (gb_state.c). Linked into every build; registered by
 * the layer that opens a runtime (bindings) or by a test. */
#include "gb_cpu.h"

static const gb_kernel_fn cpu_kernels[GB_NOPS] = {
#define GB_OP(id, name, nin, infer, cpu, cuda, grad) [id] = cpu,
#include "gb_ops.def"
#undef GB_OP
};

static int cpu_count(const char **why) {
  (void)why;
  return 1;
}

static gb_status cpu_sync(gb_state *S) {
  (void)S;
  return GB_OK;
}

static void cpu_empty_cache(gb_state *S) {
  gb_alloc_release_cache(S);
}

static const gb_backend cpu_backend = {
    .abi = GB_BACKEND_ABI,
    .kind = GB_KIND_CPU,
    .name = "cpu",
    .device_count = cpu_count,
    .alloc = gb_host_alloc,
    .free = gb_host_free,
    .copy = gb_host_copy,
    .synchronize = cpu_sync,
    .memstats = gb_host_memstats,
    .reset_peak = gb_host_reset_peak,
    .empty_cache = cpu_empty_cache,
    .kernels = cpu_kernels,
};

void gb_cpu_backend_register(void) {
  gb_backend_register(&cpu_backend);
}
