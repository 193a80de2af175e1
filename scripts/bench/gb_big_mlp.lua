-- gb_big_mlp.lua — benchmark (f), gpubp side: MLP 784-1024-1024-10 (ReLU), batch 256, Adam
-- (lr 1e-3), cross-entropy, on 10 synthetic batches cycled. Prints "BENCH steps_per_s <median>".
--   build/gpubp scripts/bench/gb_big_mlp.lua [device=cpu] [steps=30]
local gb = require('gpubp')
local bench = dofile((arg[0]:match('^(.*/)') or './') .. 'gb_bench.lua')
local nn, optim = gb.nn, gb.optim
local device = arg[1] or 'cpu'
local steps = math.tointeger(tonumber(arg[2] or '30')) or 30
local NB, BS, REPS = 10, 256, 3

local xs, ys = bench.synthetic_batches(NB, BS, device)
local model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
  nn.Linear(1024, 10))
if device ~= 'cpu' then model:to(device) end
local criterion = nn.CrossEntropyLoss()
local opt = optim.Adam(model:parameters(), { lr = 1e-3 })

local function run(n)
  local loss
  for s = 1, n do
    local i = (s - 1) % NB + 1
    opt:zero_grad()
    loss = criterion(model(xs[i]), ys[i])
    loss:backward()
    opt:step()
  end
  return loss:item()
end

run(3) -- warm-up
local rates = {}
for r = 1, REPS do
  local t0 = gb.time()
  run(steps)
  rates[r] = steps / (gb.time() - t0)
end
table.sort(rates)
print(string.format('BENCH steps_per_s %.3f', rates[(REPS + 1) // 2]))
