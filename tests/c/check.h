/* check.h — the assertion the C tests share: a failed CHECK prints file, line and the
 * condition, counts the failure and goes on, so one run reports every broken case. Each test
 * ends with `return failures ? 1 : 0;`. */
#ifndef GB_TEST_CHECK_H
#define GB_TEST_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                     \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)

#endif
