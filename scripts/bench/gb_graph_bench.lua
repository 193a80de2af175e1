-- gb_graph_bench.lua — issue 12's step benchmark, gpubp side: training steps per second of
-- an MLP, eager and through gb.graph (recorded once, replayed), on one device. Workloads:
--   seed: 784-128-10 (ReLU), SGD lr 0.01, batch 100
--   wide: 784-4096-4096-10 (ReLU), Adam lr 1e-3, batch 1024
-- Prints "BENCH <workload>_<mode> steps_per_s <median>" and, for every run, the achieved
-- TFLOP/s of the step (forward + backward; layer 1 needs no input gradient).
--   build/gpubp scripts/bench/gb_graph_bench.lua [device=cpu] [seed|wide] [eager|graph] [tf32]
local gb = require('gpubp')
local bench = dofile((arg[0]:match('^(.*/)') or './') .. 'gb_bench.lua')
local nn, optim = gb.nn, gb.optim

local device, workload, mode = arg[1] or 'cpu', arg[2] or 'seed', arg[3] or 'eager'
local tf32 = arg[4] == 'tf32'
local shapes = { seed = { 100, 128, nil, 'SGD', 200 }, wide = { 1024, 4096, 4096, 'Adam', 30 } }
local w = shapes[workload] or error('gb_graph_bench.lua: workload is seed or wide, got ' .. workload)
if mode ~= 'eager' and mode ~= 'graph' then
  error('gb_graph_bench.lua: mode is eager or graph, got ' .. mode)
end
if tf32 then gb.cuda.set_tf32(true) end
local bs, h1, h2, which, steps = w[1], w[2], w[3], w[4], w[5]
if device == 'cpu' and workload == 'wide' then steps = 5 end

local xs, ys = bench.synthetic_batches(8, bs, device)
local layers = { nn.Linear(784, h1), nn.ReLU() }
if h2 then
  layers[#layers + 1] = nn.Linear(h1, h2)
  layers[#layers + 1] = nn.ReLU()
end
layers[#layers + 1] = nn.Linear(h2 or h1, 10)
local model = nn.Sequential(table.unpack(layers))
if device ~= 'cpu' then model:to(device) end
local criterion = nn.CrossEntropyLoss()
local opt = which == 'SGD' and optim.SGD(model:parameters(), { lr = 0.01 })
  or optim.Adam(model:parameters(), { lr = 1e-3 })

local step = function(x, y)
  opt:zero_grad()
  local loss = criterion(model(x), y)
  loss:backward()
  opt:step()
  return loss
end
if mode == 'graph' then step = gb.graph(step) end

-- multiply-adds of one step: forward products, weight gradients, input gradients but layer 1's
local fwd = 784 * h1 + (h2 and h1 * h2 + h2 * 10 or h1 * 10)
local flops = 2 * bs * (3 * fwd - 784 * h1)

local function run(n)
  local loss
  for s = 1, n do loss = step(xs[(s - 1) % #xs + 1], ys[(s - 1) % #ys + 1]) end
  return loss:item() -- waits for the device
end

run(5) -- warm-up, recording
local rates = {}
for r = 1, 5 do
  local t0 = gb.time()
  run(steps)
  rates[r] = steps / (gb.time() - t0)
end
local key = workload .. '_' .. mode .. (tf32 and '_tf32' or '')
local sps = bench.median(rates)
print(string.format('BENCH %s steps_per_s %.2f', key, sps))
print(string.format('BENCH %s tflops %.3f', key, sps * flops / 1e12))
