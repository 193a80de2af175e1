/* gb_f64_rows.h — the rows whose kernels run in double on every backend that has float64 at
 * all (the CPU and CUDA), listed once: GB_F64_ELEMENTWISE_CASES (each one of gb_math.h's
 * formulas, written once for float (gb_f_) and double (gb_d_)) inside GB_F64_ROWS_CASES
 * (creation, comparisons, reductions, indexing, products, the softmax family and losses, the
 * optimizer steps, cumsum, sort, batch norm). A backend's runs_f64 switch lists GB_F64_ROWS_CASES
 * and then only the rows it alone runs in double, so each fact stands in one place. */
#ifndef GB_F64_ROWS_H
#define GB_F64_ROWS_H

#define GB_F64_ELEMENTWISE_CASES                                                                   \
  case GB_OP_AFFINE:                                                                               \
  case GB_OP_RDIV_SCALAR:                                                                          \
  case GB_OP_POW_SCALAR:                                                                           \
  case GB_OP_RPOW_SCALAR:                                                                          \
  case GB_OP_EXP:                                                                                  \
  case GB_OP_LOG:                                                                                  \
  case GB_OP_SQRT:                                                                                 \
  case GB_OP_ABS:                                                                                  \
  case GB_OP_SIGN:                                                                                 \
  case GB_OP_TANH:                                                                                 \
  case GB_OP_SIGMOID:                                                                              \
  case GB_OP_RELU:                                                                                 \
  case GB_OP_LEAKY_RELU:                                                                           \
  case GB_OP_GELU:                                                                                 \
  case GB_OP_CLAMP:                                                                                \
  case GB_OP_SIN:                                                                                  \
  case GB_OP_COS:                                                                                  \
  case GB_OP_ERF:                                                                                  \
  case GB_OP_LOG1P:                                                                                \
  case GB_OP_FLOOR:                                                                                \
  case GB_OP_ROUND:                                                                                \
  case GB_OP_SILU:                                                                                 \
  case GB_OP_ELU:                                                                                  \
  case GB_OP_SOFTPLUS:                                                                             \
  case GB_OP_ADD:                                                                                  \
  case GB_OP_SUB:                                                                                  \
  case GB_OP_MUL:                                                                                  \
  case GB_OP_DIV:                                                                                  \
  case GB_OP_POW:                                                                                  \
  case GB_OP_MAXIMUM:                                                                              \
  case GB_OP_MINIMUM:                                                                              \
  case GB_OP_RELU_BACKWARD:                                                                        \
  case GB_OP_LEAKY_RELU_BACKWARD:                                                                  \
  case GB_OP_SIGMOID_BACKWARD:                                                                     \
  case GB_OP_TANH_BACKWARD:                                                                        \
  case GB_OP_GELU_BACKWARD:                                                                        \
  case GB_OP_SILU_BACKWARD:                                                                        \
  case GB_OP_ELU_BACKWARD:                                                                         \
  case GB_OP_SOFTPLUS_BACKWARD:                                                                    \
  case GB_OP_MASKED_FILL

#define GB_F64_ROWS_CASES                                                                          \
  /* creation and conversion */                                                                    \
  case GB_OP_FILL:                                                                                 \
  case GB_OP_ARANGE:                                                                               \
  case GB_OP_EYE:                                                                                  \
  case GB_OP_UNIFORM:                                                                              \
  case GB_OP_NORMAL:                                                                               \
  case GB_OP_LINSPACE:                                                                             \
  case GB_OP_COPY:                                                                                 \
  /* elementwise, comparisons, where */                                                            \
  GB_F64_ELEMENTWISE_CASES:                                                                        \
  case GB_OP_EQ:                                                                                   \
  case GB_OP_NE:                                                                                   \
  case GB_OP_LT:                                                                                   \
  case GB_OP_LE:                                                                                   \
  case GB_OP_GT:                                                                                   \
  case GB_OP_GE:                                                                                   \
  case GB_OP_WHERE:                                                                                \
  /* reductions */                                                                                 \
  case GB_OP_SUM:                                                                                  \
  case GB_OP_MEAN:                                                                                 \
  case GB_OP_VAR:                                                                                  \
  case GB_OP_AMAX:                                                                                 \
  case GB_OP_AMIN:                                                                                 \
  case GB_OP_MAX_DIM:                                                                              \
  case GB_OP_MIN_DIM:                                                                              \
  case GB_OP_ARGMAX:                                                                               \
  case GB_OP_ARGMIN:                                                                               \
  case GB_OP_LOGSUMEXP:                                                                            \
  /* indexing (element bytes, or sums in the element type for the adds) */                         \
  case GB_OP_INDEX_SELECT:                                                                         \
  case GB_OP_INDEX_ADD:                                                                            \
  case GB_OP_GATHER:                                                                               \
  case GB_OP_SCATTER_ADD:                                                                          \
  /* matrix products (dgemm), softmax family and losses, optimizer steps, scans and sorts */       \
  case GB_OP_MATMUL:                                                                               \
  case GB_OP_ADDMM:                                                                                \
  case GB_OP_SOFTMAX:                                                                              \
  case GB_OP_LOG_SOFTMAX:                                                                          \
  case GB_OP_SOFTMAX_BACKWARD:                                                                     \
  case GB_OP_LOG_SOFTMAX_BACKWARD:                                                                 \
  case GB_OP_CROSS_ENTROPY:                                                                        \
  case GB_OP_CROSS_ENTROPY_BACKWARD:                                                               \
  case GB_OP_NLL_LOSS:                                                                             \
  case GB_OP_NLL_LOSS_BACKWARD:                                                                    \
  case GB_OP_SGD_STEP:                                                                             \
  case GB_OP_ADAM_STEP:                                                                            \
  case GB_OP_CUMSUM:                                                                               \
  case GB_OP_SORT:                                                                                 \
  case GB_OP_TOPK:                                                                                 \
  /* batch norm and its backward (per-channel statistics in double on both) */                     \
  case GB_OP_BATCH_NORM:                                                                           \
  case GB_OP_BATCH_NORM_BACKWARD

#endif
