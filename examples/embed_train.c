/* embed_train.c — a C program that embeds gpubp: it makes a small regression dataset in its
 * own memory, hands it to a Lua training script as tensors, trains a linear model with
 * gb.nn / gb.optim, and reads the loss and the learned weights back. Built by the project
 * (test `example_embed_train`) and, unchanged, by the out-of-tree consumers in
 * examples/consumer_pkgconfig and examples/consumer_cmake. Exit status 0 when training
 * worked (the loss fell and the weights are close to the truth).
 *   usage: embed_train [script.lua]   (default: the script below, compiled in) */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <gpubp.h>

#define N 256 /* samples */
#define IN 3  /* features */

/* The training script. X (N, IN) and Y (N, 1) are globals set from C; it leaves
 * first_loss, final_loss and the tensors W (1, IN) and B (1) for C to read. */
static const char train_script[] = "local nn, optim = gb.nn, gb.optim\n"
                                   "gb.manual_seed(1)\n"
                                   "local model = nn.Linear(X.shape[2], 1)\n"
                                   "local loss_fn = nn.MSELoss()\n"
                                   "local opt = optim.SGD(model:parameters(), {lr = 0.1})\n"
                                   "for step = 1, steps do\n"
                                   "  opt:zero_grad()\n"
                                   "  local loss = loss_fn(model(X), Y)\n"
                                   "  loss:backward()\n"
                                   "  opt:step()\n"
                                   "  if step == 1 then first_loss = loss:item() end\n"
                                   "  final_loss = loss:item()\n"
                                   "end\n"
                                   "W = model.weight:detach()\n"
                                   "B = model.bias:detach()\n";

static int report(gpubp_runtime *rt, int status, const char *what) {
  if (status != GPUBP_OK)
    fprintf(stderr, "embed_train: %s failed (%s): %s\n", what, gpubp_status_string(status),
            gpubp_errmsg(rt));
  return status;
}

/* A deterministic pseudo-random number in [-1, 1) (the host's own data, not gpubp's). */
static float hash_noise(unsigned i) {
  i = i * 2654435761u + 12345u;
  i ^= i >> 15;
  i *= 2246822519u;
  i ^= i >> 13;
  return (float)(i & 0xffffu) / 32768.0f - 1.0f;
}

int main(int argc, char **argv) {
  static const float true_w[IN] = {2.0f, -3.0f, 0.5f};
  const float true_b = 1.0f;
  static float x[N * IN], y[N];
  for (unsigned i = 0; i < N; i++) {
    float acc = true_b;
    for (unsigned j = 0; j < IN; j++) {
      x[i * IN + j] = hash_noise(i * IN + j);
      acc += true_w[j] * x[i * IN + j];
    }
    y[i] = acc + 0.01f * hash_noise(100000u + i);
  }

  gpubp_options opt;
  gpubp_options_init(&opt);
  opt.seed_set = 1;
  opt.seed = 42;
  gpubp_runtime *rt = NULL;
  if (report(rt, gpubp_open(&opt, &rt), "gpubp_open") != GPUBP_OK) {
    gpubp_close(rt);
    return 1;
  }

  /* A broken script is an error status and a message; the host carries on. */
  int st = gpubp_dostring(rt, "local t = gb.ones(2, 3) + gb.ones(4, 5)", "=broken");
  printf("broken script -> %s: %.60s...\n", gpubp_status_string(st), gpubp_errmsg(rt));
  if (st == GPUBP_OK) return 1;

  const int64_t xshape[2] = {N, IN}, yshape[2] = {N, 1};
  int ok = report(rt, gpubp_set_tensor(rt, "X", x, 2, xshape), "set X") == GPUBP_OK &&
           report(rt, gpubp_set_tensor(rt, "Y", y, 2, yshape), "set Y") == GPUBP_OK &&
           report(rt, gpubp_dostring(rt, "steps = 300", NULL), "steps") == GPUBP_OK;
  if (ok) {
    st =
        argc > 1 ? gpubp_dofile(rt, argv[1]) : gpubp_dostring(rt, train_script, "=embed_train.lua");
    ok = report(rt, st, "training script") == GPUBP_OK;
  }
  double first = 0, last = 0;
  float w[IN] = {0}, b = 0;
  int ndim = 0;
  int64_t shape[GPUBP_MAXDIM];
  size_t numel = 0;
  ok = ok && report(rt, gpubp_get_number(rt, "first_loss", &first), "first_loss") == GPUBP_OK &&
       report(rt, gpubp_get_number(rt, "final_loss", &last), "final_loss") == GPUBP_OK &&
       report(rt, gpubp_get_tensor(rt, "W", w, IN, &ndim, shape, &numel), "W") == GPUBP_OK &&
       report(rt, gpubp_get_tensor(rt, "B", &b, 1, &ndim, shape, &numel), "B") == GPUBP_OK;
  gpubp_close(rt);
  if (!ok) return 1;

  printf("loss %.6f -> %.6f\n", first, last);
  printf("weights %.4f %.4f %.4f (true 2 -3 0.5), bias %.4f (true 1)\n", w[0], w[1], w[2], b);
  int good = last < first * 0.01 && fabsf(b - true_b) < 0.05f;
  for (int j = 0; j < IN; j++)
    good = good && fabsf(w[j] - true_w[j]) < 0.05f;
  printf("%s\n", good ? "ok: the loss fell and the weights match" : "FAILED");
  return good ? 0 : 1;
}
