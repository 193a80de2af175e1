-- gb_adam_kernel.lua — the fused Adam row alone (gb._adam_step) on benchmark (f)'s parameters
-- (784x1024, 1024x1024, 1024x10 weights and their biases: 1.86M floats, 7.4 MB per array):
-- process CPU time (os.clock) and wall time per optimizer step, best of the rounds.
--   build/gpubp scripts/bench/gb_adam_kernel.lua [rounds=20] [steps=10]
local gb = require('gpubp')
local rounds = math.tointeger(tonumber(arg[1] or '20')) or 20
local steps = math.tointeger(tonumber(arg[2] or '10')) or 10
local shapes = { { 1024, 784 }, { 1024 }, { 1024, 1024 }, { 1024 }, { 10, 1024 }, { 10 } }
gb.manual_seed(1)
local ps = {}
for i, s in ipairs(shapes) do
  ps[i] = { p = gb.randn(table.unpack(s)), g = gb.randn(table.unpack(s)),
            m = gb.zeros(table.unpack(s)), v = gb.zeros(table.unpack(s)) }
end
local t = 0
local function step()
  t = t + 1
  for _, q in ipairs(ps) do gb._adam_step(q.p, q.g, q.m, q.v, 1e-3, 0.9, 0.999, 1e-8, 0, t, false) end
end
step()
local best_cpu, best_wall = math.huge, math.huge
for _ = 1, rounds do
  local c0, w0 = os.clock(), gb.time()
  for _ = 1, steps do step() end
  best_cpu = math.min(best_cpu, (os.clock() - c0) / steps * 1e6)
  best_wall = math.min(best_wall, (gb.time() - w0) / steps * 1e6)
end
print(string.format('BENCH adam_cpu_us %.1f', best_cpu))
print(string.format('BENCH adam_wall_us %.1f', best_wall))
