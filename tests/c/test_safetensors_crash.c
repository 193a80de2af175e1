/* test_safetensors_crash.c — crash safety of gb_safetensors_save: a child process saves a
 * large tensor over and over (each save a different uniform value, recorded in metadata)
 * and is SIGKILLed at pseudo-random moments; after every kill the file must load and be one
 * complete save: every element equal to the value its metadata names. Runs in a few seconds. */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gb_cpu.h"
#include "gb_safetensors.h"

#define NUMEL (4 * 1024 * 1024) /* 16 MB of float32 */
#define ROUNDS 16

static gb_status save_value(gb_state *S, const char *path, gb_tensor *t, long k) {
  float *p = gb_tensor_f32(t);
  for (int64_t i = 0; i < t->numel; i++)
    p[i] = (float)k;
  char v[32];
  snprintf(v, sizeof v, "%ld", k);
  gb_safetensors_entry e = {"weight", t};
  gb_safetensors_meta m = {"value", v};
  gb_safetensors f = {1, &e, 1, &m};
  return gb_safetensors_save(S, path, &f);
}

/* The child: save values start, start+1, ... until killed. */
static void child(const char *path, long start) {
  gb_state *S = gb_state_new();
  int64_t shape[1] = {NUMEL};
  gb_tensor *t = NULL;
  if (gb_tensor_empty(S, 1, shape, GB_F32, GB_CPU, &t) != GB_OK) _exit(3);
  for (long k = start;; k++)
    if (save_value(S, path, t, k) != GB_OK) {
      fprintf(stderr, "child: %s\n", gb_state_error(S));
      _exit(4);
    }
}

/* Returns the value the file holds, or -1 after printing why it is not one complete save. */
static long verify(gb_state *S, const char *path) {
  gb_safetensors f;
  if (gb_safetensors_load(S, path, &f) != GB_OK) {
    fprintf(stderr, "load after kill failed: %s\n", gb_state_error(S));
    return -1;
  }
  long k = -1;
  if (f.n == 1 && f.nmeta == 1 && f.entries[0].tensor->numel == NUMEL) {
    k = strtol(f.meta[0].value, NULL, 10);
    const float *p = gb_tensor_f32(f.entries[0].tensor);
    for (int64_t i = 0; i < NUMEL; i++)
      if (p[i] != (float)k) {
        fprintf(stderr, "element %lld is %g, metadata says %ld\n", (long long)i, p[i], k);
        k = -1;
        break;
      }
  } else {
    fprintf(stderr, "unexpected contents after kill\n");
  }
  gb_safetensors_free(S, &f);
  return k;
}

int main(void) {
  gb_cpu_backend_register();
  char dir[64], path[128], cmd[160];
  snprintf(dir, sizeof dir, "/tmp/gb_test_crash.XXXXXX");
  if (!mkdtemp(dir)) return 1;
  snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
  gb_state *S = gb_state_new();
  int64_t shape[1] = {NUMEL};
  gb_tensor *t = NULL;
  int failures = 0;
  if (gb_tensor_empty(S, 1, shape, GB_F32, GB_CPU, &t) != GB_OK ||
      save_value(S, path, t, 0) != GB_OK) {
    fprintf(stderr, "initial save: %s\n", gb_state_error(S));
    return 1;
  }
  gb_tensor_release(S, t);
  unsigned seed = 12345;
  long last = 0, changed = 0;
  /* On a loaded machine one save can take longer than the longest timed kill; then extra
   * rounds wait 0.5, 1, 2, 4, 8 s so that the replacement path is exercised all the same. */
  for (int round = 0; round < ROUNDS || (changed == 0 && round < ROUNDS + 5); round++) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) child(path, last + 1);
    seed = seed * 1103515245u + 12345u;
    long ms = 30 + (long)(seed >> 16) % 250; /* 30..279 ms: mid-write, mid-fsync, mid-rename */
    if (round >= ROUNDS) ms = 500L << (round - ROUNDS);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status)) {
      fprintf(stderr, "round %d: child exited early (status %d)\n", round, status);
      failures++;
    }
    long k = verify(S, path);
    if (k < 0) {
      fprintf(stderr, "round %d (killed after %ld ms): file not loadable\n", round, ms);
      failures++;
      break;
    }
    if (k != last) changed++;
    last = k;
    /* a kill mid-save leaves its temporary behind; that is expected, clear it */
    snprintf(cmd, sizeof cmd, "rm -f '%s'/*.tmp.*", dir);
    if (system(cmd) != 0) failures++;
  }
  if (changed == 0) {
    fprintf(stderr, "no save ever completed: the test did not exercise replacement\n");
    failures++;
  }
  printf("test_safetensors_crash: %d rounds, file replaced in %ld of them, last value %ld\n",
         ROUNDS, changed, last);
  gb_state_free(S);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) failures++;
  return failures ? 1 : 0;
}
