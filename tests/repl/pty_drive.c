/* pty_drive.c — drives an interactive program through a pseudo-terminal, as a person at a
 * terminal would, for the REPL tests (no python or expect needed).
 *   usage: pty_drive SCRIPT -- COMMAND [ARGS...]
 * SCRIPT lines: `send TEXT` (after a 60 ms pause, as a person; escapes \n \r \t \e \\ \xHH),
 * `paste FILE` (the file's bytes as fast as the terminal takes them, as a terminal pastes),
 * `expect TEXT` (waits up to 10 s for TEXT in the output after the previous match; escape sequences
 * and \r are stripped first), `reject TEXT` (TEXT must not be in the output since the previous
 * match), `sleep MS`, `exit CODE` (waits for the program to end with CODE), `# comment`. Exits 0
 * when every step passed, 1 (with the output so far) otherwise. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 10000

typedef struct drive {
  int fd;
  pid_t pid;
  char *out; /* cleaned output so far */
  size_t len, cap, pos;
  int esc; /* inside an escape sequence: 0 no, 1 after ESC, 2 in CSI */
} drive;

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void append(drive *d, const char *buf, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)buf[i];
    if (d->esc == 1) {
      d->esc = c == '[' ? 2 : 0;
      continue;
    }
    if (d->esc == 2) {
      if (c >= 0x40 && c <= 0x7e) d->esc = 0;
      continue;
    }
    if (c == 0x1b) {
      d->esc = 1;
      continue;
    }
    if (c == '\r' || c == 0x07 || c == 0) continue; /* NUL: terminal padding */
    if (d->len + 2 > d->cap) {
      d->cap = d->cap ? d->cap * 2 : 4096;
      d->out = realloc(d->out, d->cap);
      if (!d->out) exit(2);
    }
    d->out[d->len++] = (char)c;
    d->out[d->len] = '\0';
  }
}

/* Reads what is available within `ms`; returns 0 on EOF. */
static int pump(drive *d, int ms) {
  struct pollfd p = {d->fd, POLLIN, 0};
  int r = poll(&p, 1, ms);
  if (r <= 0) return 1;
  char buf[4096];
  ssize_t n = read(d->fd, buf, sizeof buf);
  if (n <= 0) return 0;
  append(d, buf, (size_t)n);
  return 1;
}

/* Writes the file at `path` to the terminal while draining its output (the program's echo
 * would otherwise fill the terminal and stall both sides). */
static int paste_file(drive *d, const char *path) {
  FILE *pf = fopen(path, "rb");
  if (!pf) return 0;
  int flags = fcntl(d->fd, F_GETFL);
  fcntl(d->fd, F_SETFL, flags | O_NONBLOCK);
  char buf[1024];
  size_t got;
  int ok = 1;
  while (ok && (got = fread(buf, 1, sizeof buf, pf)) > 0) {
    for (size_t off = 0; ok && off < got;) {
      ssize_t w = write(d->fd, buf + off, got - off);
      if (w > 0)
        off += (size_t)w;
      else if (w < 0 && errno != EAGAIN && errno != EINTR)
        ok = 0;
      pump(d, w > 0 ? 0 : 1);
    }
  }
  fcntl(d->fd, F_SETFL, flags);
  fclose(pf);
  return ok;
}

static void unescape(const char *s, char *out, size_t *n) {
  size_t k = 0;
  while (*s) {
    if (*s != '\\') {
      out[k++] = *s++;
      continue;
    }
    s++;
    switch (*s) {
    case 'n': out[k++] = '\n'; break;
    case 'r': out[k++] = '\r'; break;
    case 't': out[k++] = '\t'; break;
    case 'e': out[k++] = 0x1b; break;
    case 'x': {
      char hex[3] = {s[1], s[2], 0};
      out[k++] = (char)strtol(hex, NULL, 16);
      s += 2;
      break;
    }
    case '\0': s--; break;
    default: out[k++] = *s; break;
    }
    s++;
  }
  out[k] = '\0';
  *n = k;
}

static int fail(drive *d, int lineno, const char *what) {
  fprintf(stderr, "pty_drive: step at line %d failed: %s\n--- output so far ---\n%s\n---\n", lineno,
          what, d->out ? d->out : "");
  kill(d->pid, SIGKILL);
  return 1;
}

static int run_script(drive *d, FILE *f) {
  char line[4096], arg[4096];
  int lineno = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    line[strcspn(line, "\n")] = '\0';
    if (line[0] == '#' || line[0] == '\0') continue;
    char *sp = strchr(line, ' ');
    const char *rest = sp ? sp + 1 : "";
    if (sp) *sp = '\0';
    size_t n;
    unescape(rest, arg, &n);
    if (strcmp(line, "send") == 0) {
      /* a person reacts in tens of milliseconds; libedit prints its prompt a moment before
       * it switches the terminal to raw mode, and keys typed in between are cooked */
      long settle = now_ms() + 60;
      while (now_ms() < settle)
        pump(d, 10);
      for (size_t i = 0; i < n; i++) { /* one byte at a time, as typed */
        if (write(d->fd, arg + i, 1) != 1) return fail(d, lineno, "write");
        pump(d, 2);
      }
    } else if (strcmp(line, "paste") == 0) {
      long settle = now_ms() + 60;
      while (now_ms() < settle)
        pump(d, 10);
      if (!paste_file(d, rest)) return fail(d, lineno, "paste: cannot read the file or write it");
    } else if (strcmp(line, "expect") == 0) {
      long end = now_ms() + TIMEOUT_MS;
      char *hit = NULL;
      while (!(hit = d->out ? strstr(d->out + d->pos, arg) : NULL) && now_ms() < end)
        if (!pump(d, 50)) break;
      if (!hit && d->out) hit = strstr(d->out + d->pos, arg);
      if (!hit) {
        char msg[4200];
        snprintf(msg, sizeof msg, "expected \"%s\"", rest);
        return fail(d, lineno, msg);
      }
      d->pos = (size_t)(hit - d->out) + n;
    } else if (strcmp(line, "reject") == 0) {
      long end = now_ms() + 300; /* let late output arrive */
      while (now_ms() < end)
        pump(d, 20);
      if (d->out && strstr(d->out + d->pos, arg)) {
        char msg[4200];
        snprintf(msg, sizeof msg, "unexpected \"%s\"", rest);
        return fail(d, lineno, msg);
      }
    } else if (strcmp(line, "sleep") == 0) {
      long end = now_ms() + atol(rest);
      while (now_ms() < end)
        pump(d, 20);
    } else if (strcmp(line, "exit") == 0) {
      long end = now_ms() + TIMEOUT_MS;
      int status = 0;
      pid_t r = 0;
      while ((r = waitpid(d->pid, &status, WNOHANG)) == 0 && now_ms() < end)
        pump(d, 50);
      if (r != d->pid) return fail(d, lineno, "program did not exit");
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (code != atoi(rest)) {
        char msg[64];
        snprintf(msg, sizeof msg, "exit code %d, wanted %s", code, rest);
        return fail(d, lineno, msg);
      }
      return 0;
    } else {
      return fail(d, lineno, "unknown step");
    }
  }
  kill(d->pid, SIGKILL);
  waitpid(d->pid, NULL, 0);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4 || strcmp(argv[2], "--") != 0) {
    fprintf(stderr, "usage: pty_drive SCRIPT -- COMMAND [ARGS...]\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "r");
  if (!f) {
    perror(argv[1]);
    return 2;
  }
  struct winsize ws = {24, 80, 0, 0};
  drive d = {0};
  d.pid = forkpty(&d.fd, NULL, NULL, &ws);
  if (d.pid < 0) {
    perror("forkpty");
    return 2;
  }
  if (d.pid == 0) {
    setenv("TERM", "vt100", 1);
    execvp(argv[3], argv + 3);
    perror(argv[3]);
    _exit(127);
  }
  int rc = run_script(&d, f);
  fclose(f);
  if (rc == 0) printf("%s\npty_drive: all steps passed\n", d.out ? d.out : "");
  free(d.out);
  return rc;
}
