-- gb_step_cpu.lua — process CPU time (os.clock: all threads) per training step of benchmark
-- (a)'s seed MLP (784-128-10, SGD, batch 100) and benchmark (f)'s MLP (784-1024-1024-10,
-- Adam, batch 256), on synthetic batches: for A/B comparisons of two builds on a loaded
-- machine, where wall clock says little (scripts/bench/ab_builds.sh runs it).
--   build/gpubp scripts/bench/gb_step_cpu.lua [rounds=5] [a|f|af]
-- Prints "BENCH cpu_us_step_a <median>" and "BENCH cpu_us_step_f <median>", and the main
-- thread's share (main_us_step_a, main_us_step_f: the critical path, where Linux has
-- /proc/self/task/PID/schedstat).
local gb = require('gpubp')
local bench = dofile((arg[0]:match('^(.*/)') or './') .. 'gb_bench.lua')
local nn, optim = gb.nn, gb.optim
local rounds = math.tointeger(tonumber(arg[1] or '5')) or 5
local which = arg[2] or 'af'

-- The main thread's ns on a CPU, or nil without schedstat.
local function main_thread_ns()
  local f = io.open('/proc/self/stat')
  if not f then return nil end
  local pid = f:read('n')
  f:close()
  f = pid and io.open('/proc/self/task/' .. math.tointeger(pid) .. '/schedstat')
  if not f then return nil end
  local run = f:read('n')
  f:close()
  return run
end

local function measure(key, model, opt, nb, bs, steps)
  local xs, ys = bench.synthetic_batches(nb, bs, 'cpu')
  local criterion = nn.CrossEntropyLoss()
  local function run(n)
    local loss
    for s = 1, n do
      local i = (s - 1) % nb + 1
      opt:zero_grad()
      loss = criterion(model(xs[i]), ys[i])
      loss:backward()
      opt:step()
    end
    return loss:item()
  end
  run(nb) -- warm-up: caches, allocator, BLAS helper
  local us, main = {}, {}
  for r = 1, rounds do
    local c0, m0 = os.clock(), main_thread_ns()
    run(steps)
    us[r] = (os.clock() - c0) / steps * 1e6
    local m1 = main_thread_ns()
    if m0 and m1 then main[r] = (m1 - m0) / steps * 1e-3 end
  end
  print(string.format('BENCH cpu_us_step_%s %.1f', key, bench.median(us)))
  if #main == rounds then print(string.format('BENCH main_us_step_%s %.1f', key, bench.median(main))) end
end

if which:find('a') then
  local model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
  measure('a', model, optim.SGD(model:parameters(), { lr = 0.01 }), 80, 100, 160)
end
if which:find('f') then
  local model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
    nn.Linear(1024, 10))
  measure('f', model, optim.Adam(model:parameters(), { lr = 1e-3 }), 10, 256, 20)
end
