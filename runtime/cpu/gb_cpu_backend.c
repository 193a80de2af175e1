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
  /* creation and conversion */
  case GB_OP_FILL:
  case GB_OP_ARANGE:
  case GB_OP_EYE:
  case GB_OP_UNIFORM:
  case GB_OP_NORMAL:
  case GB_OP_LINSPACE:
  case GB_OP_COPY:
  /* elementwise (gb_math.h's gb_d_ formulas), comparisons, where */
  GB_F64_ELEMENTWISE_CASES:
  case GB_OP_EQ:
  case GB_OP_NE:
  case GB_OP_LT:
  case GB_OP_LE:
  case GB_OP_GT:
  case GB_OP_GE:
  case GB_OP_WHERE:
  /* reductions (gb_cpu_reduce_f64.c) */
  case GB_OP_SUM:
  case GB_OP_MEAN:
  case GB_OP_VAR:
  case GB_OP_AMAX:
  case GB_OP_AMIN:
  case GB_OP_MAX_DIM:
  case GB_OP_MIN_DIM:
  case GB_OP_ARGMAX:
  case GB_OP_ARGMIN:
  case GB_OP_LOGSUMEXP:
  /* indexing (element bytes, or double sums for the adds) */
  case GB_OP_INDEX_SELECT:
  case GB_OP_INDEX_ADD:
  case GB_OP_GATHER:
  case GB_OP_SCATTER_ADD:
  /* matrix products (gb_blas_dgemm), softmax family and losses (gb_cpu_nn_f64.c), optimizer
   * steps (gb_cpu_optim_f64.c), cumsum, sort, topk */
  case GB_OP_MATMUL:
  case GB_OP_ADDMM:
  case GB_OP_SOFTMAX:
  case GB_OP_LOG_SOFTMAX:
  case GB_OP_SOFTMAX_BACKWARD:
  case GB_OP_LOG_SOFTMAX_BACKWARD:
  case GB_OP_CROSS_ENTROPY:
  case GB_OP_CROSS_ENTROPY_BACKWARD:
  case GB_OP_NLL_LOSS:
  case GB_OP_NLL_LOSS_BACKWARD:
  case GB_OP_SGD_STEP:
  case GB_OP_ADAM_STEP:
  case GB_OP_CUMSUM:
  case GB_OP_SORT:
  case GB_OP_TOPK: return true;
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
