-- gb_mlp_epoch.lua — benchmark (a), gpubp side: the seed MLP (784-128-10, ReLU) trained with
-- SGD (lr 0.01) and cross-entropy at batch 100 on 80 synthetic batches (one 8000-sample
-- epoch). Prints "BENCH epoch_ms <median over epochs>" for scripts/bench/run.py. With `graph`
-- the step runs through gb.graph (recorded once, then replayed).
--   build/gpubp scripts/bench/gb_mlp_epoch.lua [device=cpu] [epochs=5] [eager|graph]
local gb = require('gpubp')
local bench = dofile((arg[0]:match('^(.*/)') or './') .. 'gb_bench.lua')
local nn, optim = gb.nn, gb.optim
local device = arg[1] or 'cpu'
local epochs = math.tointeger(tonumber(arg[2] or '5')) or 5
local NB, BS = 80, 100

local xs, ys = bench.synthetic_batches(NB, BS, device)

local model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
model:to(device) -- also on cpu: the default device may be cuda on a GPU machine
local criterion = nn.CrossEntropyLoss()
local opt = optim.SGD(model:parameters(), { lr = 0.01 })

local function step(x, y)
  opt:zero_grad()
  local loss = criterion(model(x), y)
  loss:backward()
  opt:step()
  return loss
end
if arg[3] == 'graph' then
  step = gb.graph(step)
elseif arg[3] ~= nil and arg[3] ~= 'eager' then
  error("gb_mlp_epoch.lua: the third argument is 'eager' or 'graph', got " .. arg[3])
end

local function epoch()
  local loss
  for i = 1, NB do loss = step(xs[i], ys[i]) end
  return loss:item() -- waits for the device
end

local first = epoch() -- warm-up: caches, allocator, BLAS threads
local times, last = {}, first
for e = 1, epochs do
  local t0 = gb.time()
  last = epoch()
  times[e] = (gb.time() - t0) * 1e3
end
print(string.format('BENCH epoch_ms %.3f', bench.median(times)))
print(string.format('BENCH loss_first_epoch %.4f', first))
print(string.format('BENCH loss_last_epoch %.4f', last))
