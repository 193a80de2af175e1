/* gb_f64_rows.h — the elementwise rows whose kernels run in double on every backend that has
 * float64 at all: each is one of gb_math.h's formulas, written once for float (gb_f_) and
 * double (gb_d_). A backend's runs_f64 switch lists GB_F64_ELEMENTWISE_CASES and then its own
 * further rows, so the shared list stands in one place. */
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

#endif
