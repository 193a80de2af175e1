-- cpu_threads.lua — what threading the CPU's elementwise loops and sums buys (issue 15 part
-- 4): for each size, ops timed with one thread (gb.set_num_threads(1)) and with the default,
-- alternating, reporting wall and process CPU time per call. CPU time over wall time shows
-- how many cores a call kept busy; the wall ratio is the speed-up (meaningful on an idle
-- machine only). Run: build/gpubp scripts/bench/cpu_threads.lua [reps]
local gb = require 'gpubp'
local reps = tonumber(arg and arg[1]) or 20
local default = gb.get_num_threads()

local function time(fn)
  fn()
  local w0, c0 = gb.time(), os.clock()
  for _ = 1, reps do fn() end
  return (gb.time() - w0) / reps * 1e6, (os.clock() - c0) / reps * 1e6
end

print(('threads: default %d; %d calls each; times in microseconds per call'):format(default, reps))
print(('%-10s %9s  %10s %10s  %10s %10s  %6s'):format('op', 'elements', 'wall x1', 'cpu x1',
  'wall xN', 'cpu xN', 'wall'))
for _, n in ipairs({ 1 << 14, 1 << 16, 1 << 17, 1 << 18, 1 << 20, 1 << 22 }) do
  local x, y = gb.rand(n), gb.rand(n)
  local m = gb.rand(n // 256, 256)
  local ops = {
    { 'add', function() return x + y end },
    { 'exp', function() return x:exp() end },
    { 'gelu', function() return x:gelu() end },
    { 'sum', function() return x:sum() end },
    { 'sum(-1)', function() return m:sum(-1) end },
  }
  for _, op in ipairs(ops) do
    gb.set_num_threads(1)
    local w1, c1 = time(op[2])
    gb.set_num_threads(default)
    local wn, cn = time(op[2])
    print(('%-10s %9d  %10.1f %10.1f  %10.1f %10.1f  %5.2fx'):format(op[1], n, w1, c1, wn, cn, w1 / wn))
  end
end
