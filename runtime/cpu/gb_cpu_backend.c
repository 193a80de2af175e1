/* gb_cpu_backend.c — the CPU as a backend: the CPU column of gb_ops.def as its kernel table,
 * over the host backend of the core (gb_state.c: allocator, copies, memory statistics), whose
 * entries it takes as they are. Linked into every build; registered by the layer that opens a
 * runtime (bindings) or by a test. */
#include <pthread.h>

#include "gb_cpu.h"
#include "gb_f64_rows.h"

static const gb_kernel_fn cpu_kernels[GB_NOPS] = {
#define GB_OP(id, name, nin, infer, cpu, cuda, grad) [id] = cpu,
#include "gb_ops.def"
#undef GB_OP
};

/* The rows whose CPU kernels run float64 operands in double (gb_backend.runs_f64). A row not
 * named here refuses float64 in its shape rule with a message naming the op, so a new row is
 * float32-only until its kernel gains a double loop and a case here (docs/api.md lists them). */
static bool cpu_runs_f64(gb_opid id) {
  switch (id) {
  GB_F64_ROWS_CASES:     /* both backends: gb_f64_rows.h */
  case GB_OP_LAYER_NORM: /* the CPU alone (gb_cpu_attn.c's double rows) */
  case GB_OP_LAYER_NORM_BACKWARD: return true;
  default: return false;
  }
}

/* gb_host_backend plus the kernels: filled once (runtimes open on several threads) */
static gb_backend cpu_backend;
static pthread_once_t cpu_backend_once = PTHREAD_ONCE_INIT;

static void cpu_backend_init(void) {
  cpu_backend = gb_host_backend;
  cpu_backend.kernels = cpu_kernels;
  cpu_backend.runs_f64 = cpu_runs_f64;
}

void gb_cpu_backend_register(void) {
  pthread_once(&cpu_backend_once, cpu_backend_init);
  gb_backend_register(&cpu_backend);
}
