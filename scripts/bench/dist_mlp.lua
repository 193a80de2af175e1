-- dist_mlp.lua — data-parallel throughput of a 784-1024-1024-10 MLP with Adam at a global
-- batch of 512 (synthetic data: the cost is the compute and the all-reduce, not the data):
--   gpubp scripts/bench/dist_mlp.lua [--steps 30] [--batch 512]               (1 rank)
--   mpirun -np 2 -x OPENBLAS_NUM_THREADS=1 gpubp scripts/bench/dist_mlp.lua --distributed
--     [--bucket_mb 1]                      (2 ranks; --bucket_mb 1000: one bucket, no overlap)
--   --compute_only: the same per-rank step without DistributedDataParallel (no communication)
-- Prints one line: `dist_mlp ranks=R bucket_mb=B samples/s=X step_ms=Y cpu_ms=Z`
-- (rank 1's wall time per step, and its process CPU time per step). scripts/bench/dist_bench.sh
-- runs the comparison of docs/distributed.md.
local gb = require('gpubp')
local nn = gb.nn

local o = { steps = 30, warmup = 5, batch = 512, bucket_mb = 1 }
local i = 1
while i <= #arg do
  local a = arg[i]
  if a == '--distributed' or a == '--compute_only' then
    o[a:sub(3)] = true
    i = i + 1
  else
    local k = a:match('^%-%-(%w[%w_]*)$')
    if not k or o[k] == nil or not tonumber(arg[i + 1]) then error('bad option ' .. a) end
    o[k] = tonumber(arg[i + 1])
    i = i + 2
  end
end
gb.set_default_device('cpu')
local d = gb.distributed
local world, rank = 1, 1
if o.distributed then
  d.init()
  world, rank = d.world_size(), d.rank()
end
local per = o.batch // world
gb.manual_seed(1)
local model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
  nn.Linear(1024, 10))
local net = (o.distributed and not o.compute_only)
  and nn.DistributedDataParallel(model, { bucket_mb = o.bucket_mb }) or model
local opt = gb.optim.Adam(net:parameters(), { lr = 1e-3 })
local loss_fn = nn.CrossEntropyLoss()
gb.manual_seed(10 + rank)
local x = gb.rand(per, 784)
local y = (gb.rand(per) * 10):floor():long() + 1

local function step()
  opt:zero_grad()
  loss_fn(net(x), y):backward()
  opt:step()
end
for _ = 1, o.warmup do step() end
if o.distributed then d.barrier() end
local t0, c0 = gb.time(), os.clock()
for _ = 1, o.steps do step() end
if o.distributed then d.barrier() end
local dt, dc = gb.time() - t0, os.clock() - c0
if rank == 1 then
  print(string.format('dist_mlp ranks=%d bucket_mb=%s%s samples/s=%.0f step_ms=%.2f cpu_ms=%.2f',
    world, o.distributed and not o.compute_only and tostring(o.bucket_mb) or '-',
    o.compute_only and ' compute_only' or '', o.steps * o.batch / dt, 1000 * dt / o.steps,
    1000 * dc / o.steps))
end
if o.distributed then d.finalize() end
