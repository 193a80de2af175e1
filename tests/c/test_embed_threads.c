/* test_embed_threads.c — the embedding API's thread rule in practice: several runtimes, one
 * per thread, working at the same time, each seeded alike, must compute the same numbers as
 * a runtime run alone (no hidden shared state between runtimes). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "gpubp.h"

#define NTHREADS 4

static const char work[] = "local x = gb.rand(64, 32)\n"
                           "local w = gb.randn(32, 8)\n"
                           "local acc = 0\n"
                           "for i = 1, 30 do\n"
                           "  local y = x:matmul(w):relu()\n"
                           "  acc = acc + y:sum():item()\n"
                           "  w = w * 0.99\n"
                           "end\n"
                           "result = acc\n"
                           "model = gb.nn.Linear(32, 4)\n"
                           "local opt = gb.optim.SGD(model:parameters(), {lr = 0.05})\n"
                           "for i = 1, 20 do\n"
                           "  opt:zero_grad()\n"
                           "  local loss = (model(x) - 1):pow(2):mean()\n"
                           "  loss:backward()\n"
                           "  opt:step()\n"
                           "  final_loss = loss:item()\n"
                           "end\n";

typedef struct job {
  double result, loss;
  int status;
  char err[256];
} job;

static void *run(void *arg) {
  job *j = arg;
  gpubp_options opt;
  gpubp_options_init(&opt);
  opt.device = "cpu";
  opt.seed_set = 1;
  opt.seed = 7;
  gpubp_runtime *rt = NULL;
  j->status = gpubp_open(&opt, &rt);
  if (j->status == GPUBP_OK) j->status = gpubp_dostring(rt, work, "=work");
  if (j->status == GPUBP_OK) j->status = gpubp_get_number(rt, "result", &j->result);
  if (j->status == GPUBP_OK) j->status = gpubp_get_number(rt, "final_loss", &j->loss);
  if (j->status != GPUBP_OK) snprintf(j->err, sizeof j->err, "%s", gpubp_errmsg(rt));
  gpubp_close(rt);
  return NULL;
}

int main(void) {
  job alone;
  memset(&alone, 0, sizeof alone);
  run(&alone);
  if (alone.status != GPUBP_OK) {
    fprintf(stderr, "single runtime failed: %s\n", alone.err);
    return 1;
  }
  pthread_t th[NTHREADS];
  job jobs[NTHREADS];
  memset(jobs, 0, sizeof jobs);
  for (int i = 0; i < NTHREADS; i++)
    if (pthread_create(&th[i], NULL, run, &jobs[i]) != 0) return 1;
  for (int i = 0; i < NTHREADS; i++)
    pthread_join(th[i], NULL);
  int bad = 0;
  for (int i = 0; i < NTHREADS; i++) {
    if (jobs[i].status != GPUBP_OK) {
      fprintf(stderr, "thread %d: %s\n", i, jobs[i].err);
      bad++;
    } else if (jobs[i].result != alone.result || jobs[i].loss != alone.loss) {
      fprintf(stderr, "thread %d: result %.9g loss %.9g, alone %.9g %.9g\n", i, jobs[i].result,
              jobs[i].loss, alone.result, alone.loss);
      bad++;
    }
  }
  if (bad) return 1;
  printf("test_embed_threads: %d concurrent runtimes agree (result %.6g, loss %.6g)\n", NTHREADS,
         alone.result, alone.loss);
  return 0;
}
