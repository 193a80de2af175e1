-- distributed.lua — gb.distributed: the process group of a data-parallel run started by
-- `mpirun -np N gpubp script.lua`. Collectives over MPI for cpu tensors and NCCL for cuda
-- ones, in the plugin libgpubp_dist.so (opened by init, never before); ranks count from 1.
-- Every collective first agrees on a small header, so mismatched shapes, a rank that fails
-- or one that never arrives become errors naming the collective (docs/distributed.md).

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local gb = require('gpubp.core')
local C = gb._dist

local M = {}

local function check_tensor(fn, t)
  if not gb.is_tensor(t) then
    errors.raisef('distributed.%s: expected a tensor, got %s', fn, type(t))
  end
end

-- is_available() -> true, build | false, why: whether this build has the MPI plugin
-- (opens it, which maps MPI, but starts nothing).
function M.is_available()
  return C.available()
end

-- init([{backend='mpi'|'nccl', timeout=60}]): joins the process group the launcher made
-- (world size 1 without a launcher). Calling it again does nothing.
function M.init(opts)
  opts = options.check('distributed.init', opts,
    { backend = 'mpi', timeout = options.opt(nil, 'number') })
  if opts.backend ~= 'mpi' and opts.backend ~= 'nccl' then
    errors.raisef("distributed.init: backend must be 'mpi' or 'nccl', got '%s'", tostring(opts.backend))
  end
  if opts.timeout ~= nil and not (opts.timeout > 0) then
    errors.raisef('distributed.init: timeout must be > 0 seconds, got %s', tostring(opts.timeout))
  end
  local t = opts.timeout or tonumber(os.getenv('GPUBP_DIST_TIMEOUT') or '')
  C.init(t, opts.backend == 'nccl')
end

function M.is_initialized() return C.is_initialized() end
function M.rank() return C.rank() end
function M.world_size() return C.world_size() end
function M.barrier() C.barrier() end
function M.set_timeout(seconds) C.set_timeout(seconds) end
function M.get_timeout() return C.get_timeout() end
function M.finalize() C.finalize() end

local OPS = { sum = true, mean = true, max = true, min = true }

-- all_reduce(t [, op='sum']) -> t: every rank's t becomes the sum (mean, max, min) over ranks.
function M.all_reduce(t, op)
  check_tensor('all_reduce', t)
  op = op or 'sum'
  if not OPS[op] then
    errors.raisef("distributed.all_reduce: op must be 'sum', 'mean', 'max' or 'min', got '%s'",
      tostring(op))
  end
  C.all_reduce(t, op)
  return t
end

-- broadcast(t [, root=1]) -> t: every rank's t becomes root's.
function M.broadcast(t, root)
  check_tensor('broadcast', t)
  local r = options.tointeger(root) -- 2.0 as 2
  if root ~= nil and r == nil then
    errors.raisef('distributed.broadcast: root must be an integer rank, got %s', tostring(root))
  end
  C.broadcast(t, r or 1)
  return t
end

-- all_gather(t) -> {t_1, ..., t_N}: rank r's t at index r (views of one new tensor).
function M.all_gather(t)
  check_tensor('all_gather', t)
  local all = C.all_gather(t)
  local out = {}
  for r = 1, all:size(1) do out[r] = all[r] end
  return out
end

-- abort(msg): tells every other rank this one fails with msg (their collectives raise it)
-- and leaves the group unusable. The gpubp command calls it when a script fails.
function M.abort(msg)
  C.abort(tostring(msg or 'aborted'))
end

-- For DistributedDataParallel: a launched all-reduce and its wait; progress drives MPI.
-- trusted: no header exchange (the caller checked the sequence once, as DDP's buckets).
M._all_reduce_async = function(t, op, trusted) return C.all_reduce(t, op or 'sum', true, trusted) end
M._wait = C.wait
M._progress = C.progress

return M
