/* lgb_data.c — gb._gather_rows, the DataLoader's batch gather started ahead of time: rows
 * perm[start .. start+len-1] of a CPU tensor are copied into a new tensor on gb_blas's helper
 * thread (gb_rowgather.h) while the script trains on the previous batch; job:wait() hands the
 * batch over. Private (lua/gpubp/data/DataLoader.lua is its one user). */
#include <string.h>

#include "gb_rowgather.h"
#include "gb_state.h"
#include "lgb.h"

typedef struct gather_job {
  gb_rowgather g;
  gb_tensor *src, *out; /* owned; src kept alive while the helper reads it */
  bool started;         /* started and not yet finished */
  int64_t rows[];       /* 0-based source rows */
} gather_job;

static const char JOB_MT = 'J';

static gather_job *check_job(lua_State *L) {
  gather_job *j = lua_touserdata(L, 1);
  if (!j || !lua_getmetatable(L, 1)) luaL_argerror(L, 1, "gather job expected");
  lua_rawgetp(L, LUA_REGISTRYINDEX, &JOB_MT);
  bool same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  if (!same) luaL_argerror(L, 1, "gather job expected");
  return j;
}

/* Waits for the copy and drops the job's references, keeping `out` when asked. */
static gb_tensor *job_end(lua_State *L, gather_job *j, bool keep_out) {
  if (j->started) gb_rowgather_finish(&j->g);
  j->started = false;
  gb_state *S = gbL_state(L);
  gb_tensor_release(S, j->src);
  j->src = NULL;
  gb_tensor *out = j->out;
  j->out = NULL;
  if (!keep_out) {
    gb_tensor_release(S, out);
    out = NULL;
  }
  return out;
}

/* gb._gather_rows(src, perm, start, len) -> job. src: a contiguous CPU tensor with at least
 * one dim; perm: a contiguous 1-D CPU int64 tensor of 1-based row numbers; the batch is rows
 * perm[start], ..., perm[start+len-1] of src, shaped (len, src.shape[2..]). */
static int gather_rows(lua_State *L) {
  gb_state *S = gbL_enter(L);
  gb_tensor *src = gbL_check_tensor(L, 1), *perm = gbL_check_tensor(L, 2);
  lua_Integer start = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
  if (src->device != GB_CPU || src->ndim < 1 || !gb_tensor_is_contiguous(src))
    return luaL_error(L, "gather_rows: expected a contiguous cpu tensor with at least one dim");
  if (perm->device != GB_CPU || perm->ndim != 1 || perm->dtype != GB_I64 ||
      !gb_tensor_is_contiguous(perm))
    return luaL_error(L, "gather_rows: expected the row numbers as a contiguous 1-D cpu int64 "
                         "tensor");
  if (start < 1 || len < 0 || len > perm->numel || start - 1 > perm->numel - len)
    return luaL_error(L, "gather_rows: %I rows from position %I do not fit the %I row numbers", len,
                      start, (lua_Integer)perm->numel);
  gather_job *j = lua_newuserdatauv(L, sizeof *j + (size_t)len * sizeof(int64_t), 0);
  memset(j, 0, sizeof *j);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &JOB_MT);
  lua_setmetatable(L, -2);
  const int64_t *pv = (const int64_t *)gb_tensor_data(perm) + (start - 1);
  int64_t n = src->shape[0];
  for (lua_Integer i = 0; i < len; i++) {
    if (pv[i] < 1 || pv[i] > n)
      return luaL_error(L, "gather_rows: row number %I at position %I is out of range 1..%I",
                        (lua_Integer)pv[i], start + i, (lua_Integer)n);
    j->rows[i] = pv[i] - 1;
  }
  int64_t shape[GB_MAXDIM];
  memcpy(shape, src->shape, sizeof shape);
  shape[0] = len;
  GBL_CHECK(L, S, gb_tensor_empty(S, src->ndim, shape, src->dtype, GB_CPU, &j->out));
  gb_tensor_retain(src);
  j->src = src;
  size_t row = gb_dtype_size(src->dtype);
  for (int d = 1; d < src->ndim; d++)
    row *= (size_t)src->shape[d];
  j->g.dst = gb_tensor_data(j->out);
  j->g.src = gb_tensor_data(src);
  j->g.row_bytes = row;
  j->g.rows = j->rows;
  j->g.n = len;
  gb_rowgather_start(&j->g);
  j->started = true;
  return 1;
}

/* gb._can_gather_rows(t) -> whether gb._gather_rows takes t as its source. */
static int can_gather_rows(lua_State *L) {
  gb_tensor *t = gbL_to_tensor(L, 1);
  lua_pushboolean(L, t && t->device == GB_CPU && t->ndim >= 1 && gb_tensor_is_contiguous(t));
  return 1;
}

/* job:wait() -> the batch tensor (once). */
static int job_wait(lua_State *L) {
  gather_job *j = check_job(L);
  if (!j->out) return luaL_error(L, "gather_rows: this batch was already taken");
  gbL_push_tensor(L, job_end(L, j, true));
  return 1;
}

/* Collected or closed without wait: the helper may still be copying into `out`. */
static int job_gc(lua_State *L) {
  gather_job *j = lua_touserdata(L, 1);
  if (j && (j->out || j->src || j->started)) job_end(L, j, false);
  return 0;
}

void gbL_open_data(lua_State *L) {
  lua_newtable(L); /* the job metatable */
  lua_newtable(L);
  lua_pushcfunction(L, job_wait);
  lua_setfield(L, -2, "wait");
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, job_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, job_gc);
  lua_setfield(L, -2, "__close");
  lua_pushliteral(L, "gather_job");
  lua_setfield(L, -2, "__name");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &JOB_MT);
  lua_pushcfunction(L, gather_rows);
  lua_setfield(L, -2, "_gather_rows");
  lua_pushcfunction(L, can_gather_rows);
  lua_setfield(L, -2, "_can_gather_rows");
}
