/* check.h — the assertion every C test shares (tests/c and tests/gpu): a failed CHECK prints
 * file, line, the condition and, when given, a printf-style explanation, counts the failure
 * and goes on, so one run reports every broken case. `checks` counts the CHECKs evaluated.
 * Each test ends with `return failures ? 1 : 0;`.
 *   CHECK(x == 3);
 *   CHECK(err < tol, "%s: max error %g over %g", name, err, tol); */
#ifndef GB_TEST_CHECK_H
#define GB_TEST_CHECK_H

#include <stdarg.h>
#include <stdio.h>

static int failures, checks;

/* The optional explanation; "" (CHECK without one) prints nothing. */
static inline void gb_check_note(const char *fmt, ...) {
  if (!fmt[0]) return;
  va_list ap;
  va_start(ap, fmt);
  fputs(": ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
}

#define CHECK(...) GB_CHECK_(__VA_ARGS__, "")
#define GB_CHECK_(cond, ...)                                                                       \
  do {                                                                                             \
    checks++;                                                                                      \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: check failed: %s", __FILE__, __LINE__, #cond);                       \
      gb_check_note(__VA_ARGS__);                                                                  \
      fputc('\n', stderr);                                                                         \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)

#endif
