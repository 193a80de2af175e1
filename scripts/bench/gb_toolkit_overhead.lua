-- gb_toolkit_overhead.lua — does the training toolkit cost a step anything when unused? The
-- seed MLP step (784-128-10, SGD, batch 100, 80 synthetic batches per epoch) in two modes:
--   plain    the bare loop (runs on any gpubp build, also one without the toolkit)
--   toolkit  the same loop with a gb.utils.progress meter updated every step (to a file)
--            and the GradMonitor off
-- Prints "BENCH step_us <median wall time>" and "BENCH step_cpu_us <median process CPU
-- time>" per step (CPU time is the steadier one on a loaded machine; run with
-- OPENBLAS_NUM_THREADS=1 so that it is one thread's). Compare builds and modes side by side:
--   build/gpubp scripts/bench/gb_toolkit_overhead.lua plain|toolkit [epochs=20]
local gb = require('gpubp')
local bench = dofile((arg[0]:match('^(.*/)') or './') .. 'gb_bench.lua')
local nn, optim = gb.nn, gb.optim
local mode = arg[1] or 'plain'
local epochs = math.tointeger(tonumber(arg[2] or '20')) or 20
local NB, BS = 80, 100

local xs, ys = bench.synthetic_batches(NB, BS, 'cpu')
local model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
local criterion = nn.CrossEntropyLoss()
local opt = optim.SGD(model:parameters(), { lr = 0.01 })
local sink = io.tmpfile()

local function epoch()
  local bar = mode == 'toolkit' and gb.utils.progress(NB, { file = sink, desc = 'bench' }) or nil
  local loss
  for i = 1, NB do
    opt:zero_grad()
    loss = criterion(model(xs[i]), ys[i])
    loss:backward()
    opt:step()
    if bar then bar:update(1, { loss = loss }) end
  end
  if bar then bar:close() end
  return loss:item()
end

epoch()
local times, cpu = {}, {}
for e = 1, epochs do
  local t0, c0 = gb.time(), os.clock()
  epoch()
  times[e] = (gb.time() - t0) * 1e6 / NB
  cpu[e] = (os.clock() - c0) * 1e6 / NB
end
print(string.format('BENCH step_us %.1f (%s, median of %d epochs of %d steps)', bench.median(times),
  mode, epochs, NB))
print(string.format('BENCH step_cpu_us %.1f (%s)', bench.median(cpu), mode))
