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
#include <string.h>

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

/* For the embedding tests (gpubp.h): the status `call` returns must be `want`, else the
 * status names and the runtime's message are printed; CHECK_MSG: the runtime's last message
 * contains `text`.
 *   CHECK_ST(rt, gpubp_dostring(rt, "x = 1 +", "=bad"), GPUBP_ERRSYNTAX);
 *   CHECK_MSG(rt, "bad:1:"); */
#define CHECK_ST(rt, call, want)                                                                   \
  do {                                                                                             \
    checks++;                                                                                      \
    int st_ = (call);                                                                              \
    if (st_ != (want)) {                                                                           \
      fprintf(stderr, "%s:%d: %s returned %s (%d), wanted %s; message: %s\n", __FILE__, __LINE__,  \
              #call, gpubp_status_string(st_), st_, gpubp_status_string(want), gpubp_errmsg(rt));  \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)

#define CHECK_MSG(rt, text)                                                                        \
  do {                                                                                             \
    checks++;                                                                                      \
    if (strstr(gpubp_errmsg(rt), (text)) == NULL) {                                                \
      fprintf(stderr, "%s:%d: message lacks \"%s\": %s\n", __FILE__, __LINE__, (text),             \
              gpubp_errmsg(rt));                                                                   \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)

#endif
