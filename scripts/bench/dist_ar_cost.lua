-- dist_ar_cost.lua — the CPU cost of what DistributedDataParallel adds to a step of the
-- 784-1024-1024-10 MLP (scripts/bench/dist_mlp.lua): one all_reduce(mean) of its 1,863,690
-- gradient floats, and one copy_ of them (a gradient into its bucket); rank 1's process CPU
-- ms per call, over 20 calls each after 3 warm-up all-reduces.
--   mpirun -np 2 -x OPENBLAS_NUM_THREADS=1 gpubp --device cpu scripts/bench/dist_ar_cost.lua
local gb = require('gpubp')
local d = gb.distributed
d.init()
local n = 784 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10
local t, g = gb.randn(n), gb.randn(n)
for _ = 1, 3 do d.all_reduce(t, 'mean') end
d.barrier()
local c0 = os.clock()
for _ = 1, 20 do d.all_reduce(t, 'mean') end
local c1 = os.clock()
for _ = 1, 20 do t:copy_(g) end
local c2 = os.clock()
if d.rank() == 1 then
  print(string.format('dist_ar_cost ranks=%d floats=%d all_reduce_mean_cpu_ms=%.2f copy_cpu_ms=%.2f',
    d.world_size(), n, (c1 - c0) * 1000 / 20, (c2 - c1) * 1000 / 20))
end
d.finalize()
