/* fuzz_safetensors.c — libFuzzer harness for the safetensors reader and writer. Each input
 * is parsed from memory and loaded from a file (same verdict and message required); inputs
 * that load are saved, loaded again (same tensors, bit for bit) and saved once more (the
 * writer is deterministic: identical bytes). */
#include "fuzz_common.h"
#include "gb_safetensors.h"

static char in_path[128], out_path[128], out2_path[128];

static void remove_scratch(void) {
  unlink(in_path);
  unlink(out_path);
  unlink(out2_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_scratch_path(in_path, sizeof in_path, "st", ".in");
  fuzz_scratch_path(out_path, sizeof out_path, "st", ".out");
  fuzz_scratch_path(out2_path, sizeof out2_path, "st", ".out2");
  atexit(remove_scratch);
  return 0;
}

static const char *tail(const char *msg, const char *name) {
  char prefix[160];
  snprintf(prefix, sizeof prefix, "load: %s: ", name);
  FUZZ_ASSERT(strncmp(msg, prefix, strlen(prefix)) == 0, "message '%s' does not name %s", msg,
              name);
  return msg + strlen(prefix);
}

static size_t nbytes(const gb_tensor *t) {
  return (size_t)t->numel * gb_dtype_size(t->dtype);
}

static void same_set(const gb_safetensors *a, const gb_safetensors *b) {
  FUZZ_ASSERT(a->n == b->n && a->nmeta == b->nmeta, "sets differ in size");
  for (int i = 0; i < a->n; i++) {
    const gb_tensor *x = a->entries[i].tensor, *y = b->entries[i].tensor;
    FUZZ_ASSERT(strcmp(a->entries[i].name, b->entries[i].name) == 0, "names differ");
    FUZZ_ASSERT(x->dtype == y->dtype && x->ndim == y->ndim && x->numel == y->numel,
                "tensor '%s' differs", a->entries[i].name);
    for (int d = 0; d < x->ndim; d++)
      FUZZ_ASSERT(x->shape[d] == y->shape[d], "shape differs");
    FUZZ_ASSERT(memcmp(gb_tensor_data(x), gb_tensor_data(y), nbytes(x)) == 0, "bytes differ");
  }
  for (int i = 0; i < a->nmeta; i++) {
    bool found = false;
    for (int j = 0; j < b->nmeta; j++)
      if (strcmp(a->meta[i].key, b->meta[j].key) == 0)
        found = strcmp(a->meta[i].value, b->meta[j].value) == 0;
    FUZZ_ASSERT(found, "metadata '%s' lost", a->meta[i].key);
  }
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  FUZZ_ASSERT(f != NULL, "open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)n + 1);
  *len = fread(b, 1, (size_t)n, f);
  fclose(f);
  return b;
}

static void round_trip(gb_state *S, const gb_safetensors *f, size_t in_size) {
  size_t total = 0;
  for (int i = 0; i < f->n; i++) {
    FUZZ_ASSERT(f->entries[i].tensor->device == GB_CPU, "not on the CPU");
    if (i) FUZZ_ASSERT(strcmp(f->entries[i - 1].name, f->entries[i].name) < 0, "not sorted");
    total += nbytes(f->entries[i].tensor);
  }
  FUZZ_ASSERT(total + 8 <= in_size, "%zu data bytes from a %zu-byte input", total, in_size);
  gb_status st = gb_safetensors_save(S, out_path, f);
  FUZZ_ASSERT(st == GB_OK, "save of a loaded set failed: %s", gb_state_error(S));
  gb_safetensors g;
  FUZZ_ASSERT(gb_safetensors_load(S, out_path, &g) == GB_OK, "reload: %s", gb_state_error(S));
  same_set(f, &g);
  FUZZ_ASSERT(gb_safetensors_save(S, out2_path, &g) == GB_OK, "resave: %s", gb_state_error(S));
  size_t n1, n2;
  unsigned char *b1 = slurp(out_path, &n1), *b2 = slurp(out2_path, &n2);
  FUZZ_ASSERT(n1 == n2 && memcmp(b1, b2, n1) == 0, "writer is not deterministic");
  free(b1);
  free(b2);
  gb_safetensors_free(S, &g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gb_state *S = gb_state_new();
  gb_safetensors f, g;
  gb_status st = gb_safetensors_parse(S, "fuzz", data, size, &f);
  char msg[GB_ERRLEN] = "";
  if (st != GB_OK) {
    FUZZ_ASSERT(f.n == 0 && f.entries == NULL, "failed parse left tensors behind");
    snprintf(msg, sizeof msg, "%s", tail(gb_state_error(S), "fuzz"));
  }
  fuzz_write(in_path, data, size);
  gb_status lst = gb_safetensors_load(S, in_path, &g);
  FUZZ_ASSERT(lst == st, "load status %d, parse status %d (%s)", lst, st, gb_state_error(S));
  if (st != GB_OK) {
    FUZZ_ASSERT(strcmp(tail(gb_state_error(S), in_path), msg) == 0, "load '%s' vs parse '%s'",
                gb_state_error(S), msg);
  } else {
    same_set(&f, &g);
    round_trip(S, &f, size);
    gb_safetensors_free(S, &g);
  }
  gb_safetensors_free(S, &f);
  gb_state_free(S);
  return 0;
}
