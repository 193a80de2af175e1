-- gb_real_recipe.lua — benchmark (r), gpubp side: the seed recipe on full-size data
-- (Fashion-MNIST 60k/10k): 784-128-10 ReLU, SGD lr 0.01, batch 100, cross-entropy, batches
-- from gb.data.DataLoader{shuffle=true}; training time only. Prints "BENCH key value" lines for
-- scripts/bench/run.py: epoch_ms and step_ms (medians over epochs), cpu_epoch_ms (process CPU
-- time per epoch, both threads), main_cpu_epoch_ms and main_wait_epoch_ms (the main thread's
-- time on a CPU and waiting for one, from /proc/self/task/PID/schedstat, where Linux has it:
-- the critical path, and what other processes cost it), test_acc, sgemm_gflops (this
-- process's best 1024^3 rate) and floor_step_ms (the step's 40.9 MFLOP at that rate). Modes
-- split the step's cost:
--   loader   the recipe (default)
--   pregathered  the epoch's 600 batches gathered before the clock starts, then trained on
--   gather   the DataLoader alone: its batches, no training
-- and with `sync` the DataLoader gathers each batch when asked for (prefetch=false).
--   build/gpubp scripts/bench/gb_real_recipe.lua DATA_DIR [epochs=5] [loader|pregathered|gather]
--       [sync]
local gb = require('gpubp')
local bench = dofile((arg[0]:match('^(.*/)') or './') .. 'gb_bench.lua')
local nn, optim, data = gb.nn, gb.optim, gb.data
local dir = arg[1] or '/usr/share/datasets/fashion-mnist'
local epochs = math.tointeger(tonumber(arg[2] or '5')) or 5
local mode = arg[3] or 'loader'
if mode ~= 'loader' and mode ~= 'pregathered' and mode ~= 'gather' then
  error("gb_real_recipe.lua: mode is 'loader', 'pregathered' or 'gather', got " .. mode)
end
local BS = 100
local prefetch = arg[4] ~= 'sync'
if arg[4] ~= nil and arg[4] ~= 'sync' then
  error("gb_real_recipe.lua: the fourth argument is 'sync' or nothing, got " .. arg[4])
end

-- FLOPs of one step: forward x(100,784)W1^T, h(100,128)W2^T; backward dW2, dh, dW1 (layer 1
-- needs no input gradient). Bias, ReLU, loss and SGD are O(activations), left out.
local function step_flops(b, i, h, o)
  return 2 * b * i * h + 2 * b * h * o + 2 * o * b * h + 2 * b * o * h + 2 * h * b * i
end

-- Best 1024^3 rate of this process's matmul (both cores, as the step uses them).
local function sgemm_gflops()
  local n = 1024
  local a, b = gb.randn(n, n), gb.randn(n, n)
  local c = a:matmul(b)
  local best = math.huge
  for _ = 1, 3 do
    local t0 = gb.time()
    for _ = 1, 4 do c = a:matmul(b) end
    c:sum():item()
    best = math.min(best, (gb.time() - t0) / 4)
  end
  return 2 * n * n * n / best * 1e-9
end

-- The main thread's ns on a CPU and waiting in the run queue, or nil without schedstat.
local function main_thread_ns()
  local f = io.open('/proc/self/stat')
  if not f then return nil end
  local pid = f:read('n')
  f:close()
  f = pid and io.open('/proc/self/task/' .. math.tointeger(pid) .. '/schedstat')
  if not f then return nil end
  local run, wait = f:read('n', 'n')
  f:close()
  return run, wait
end

gb.manual_seed(1)
local train = data.fashion_mnist(dir, 'train')
local test = data.fashion_mnist(dir, 'test')
local loader = data.DataLoader(train, { batch_size = BS, shuffle = true, prefetch = prefetch })
local model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
local criterion = nn.CrossEntropyLoss()
local opt = optim.SGD(model:parameters(), { lr = 0.01 })

local function step(x, y)
  opt:zero_grad()
  local loss = criterion(model(x), y)
  loss:backward()
  opt:step()
  return loss
end

local function epoch()
  local loss, n = nil, 0
  if mode == 'gather' then
    for x in loader() do loss, n = x, n + 1 end
    return n
  elseif mode == 'pregathered' then
    local xs, ys = {}, {}
    for x, y in loader() do xs[#xs + 1], ys[#ys + 1] = x, y end
    local t0, c0 = gb.time(), os.clock()
    for i = 1, #xs do loss = step(xs[i], ys[i]) end
    loss:item()
    return #xs, gb.time() - t0, os.clock() - c0
  end
  for x, y in loader() do loss, n = step(x, y), n + 1 end
  loss:item()
  return n
end

local function accuracy()
  local correct = 0
  gb.no_grad(function()
    for i = 1, test.n, 1000 do
      local len = math.min(1000, test.n - i + 1)
      correct = correct + model(test.x:narrow(1, i, len)):argmax(2):eq(test.y:narrow(1, i, len))
                          :sum():item()
    end
  end)
  return correct / test.n
end

epoch() -- warm-up: caches, allocator, BLAS helper thread
local times, cpu, mcpu, mwait, steps = {}, {}, {}, {}, 0
for e = 1, epochs do
  local t0, c0 = gb.time(), os.clock()
  local r0, w0 = main_thread_ns()
  local n, dt, dc = epoch()
  local r1, w1 = main_thread_ns()
  times[e] = (dt or (gb.time() - t0)) * 1e3
  cpu[e] = (dc or (os.clock() - c0)) * 1e3
  if r0 and r1 and mode ~= 'pregathered' then
    mcpu[e], mwait[e] = (r1 - r0) * 1e-6, (w1 - w0) * 1e-6
  end
  steps = n
end
local ep = bench.median(times)
print(string.format('BENCH epoch_ms %.3f', ep))
print(string.format('BENCH step_ms %.4f', ep / steps))
print(string.format('BENCH cpu_epoch_ms %.3f', bench.median(cpu)))
if #mcpu > 0 then
  print(string.format('BENCH main_cpu_epoch_ms %.3f', bench.median(mcpu)))
  print(string.format('BENCH main_wait_epoch_ms %.3f', bench.median(mwait)))
end
if mode ~= 'gather' then print(string.format('BENCH test_acc %.4f', accuracy())) end
local rate = sgemm_gflops()
print(string.format('BENCH sgemm_gflops %.1f', rate))
print(string.format('BENCH floor_step_ms %.4f', step_flops(BS, 784, 128, 10) / (rate * 1e9) * 1e3))
