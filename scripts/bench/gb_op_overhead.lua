-- gb_op_overhead.lua — benchmark (b), gpubp side: host time per op on 1-element tensors,
-- without autograd, with autograd (the op records a tape node), and a forward+backward
-- chain. Prints "BENCH <key> <microseconds>" lines for scripts/bench/run.py.
--   build/gpubp scripts/bench/gb_op_overhead.lua [device=cpu] [iters=200000]
local gb = require('gpubp')
local bench = dofile((arg[0]:match('^(.*/)') or './') .. 'gb_bench.lua')
local device = arg[1] or 'cpu'
local N = math.tointeger(tonumber(arg[2] or '200000')) or 200000
local REPS = 5
local CHAIN = 10 -- chain links; each link is 3 ops: y = relu(y * s) + s

-- Median over REPS of the seconds per iteration of fn(n).
local function per_iter(fn, n)
  fn(math.max(1, n // 10)) -- warm-up
  local ts = {}
  for r = 1, REPS do
    local t0 = gb.time()
    fn(n)
    ts[r] = (gb.time() - t0) / n
  end
  return bench.median(ts)
end

local a, b = gb.ones(1, { device = device }), gb.ones(1, { device = device })
local function add_loop(n)
  local c
  for _ = 1, n do c = a + b end
  return c
end

local us_nograd = gb.no_grad(function() return per_iter(add_loop, N) end) * 1e6
print(string.format('BENCH add_nograd_us %.3f', us_nograd))

local ag = gb.ones(1, { device = device }):requires_grad_()
local function add_grad_loop(n)
  local c
  for _ = 1, n do c = ag + b end
  return c
end
print(string.format('BENCH add_grad_us %.3f', per_iter(add_grad_loop, N) * 1e6))

local x = gb.ones(1, { device = device }):requires_grad_()
local s = gb.full({ 1 }, 0.5, { device = device })
local function chain_loop(n)
  for _ = 1, n do
    local y = x
    for _ = 1, CHAIN do y = (y * s):relu() + s end
    y:sum():backward()
  end
end
local chain_s = per_iter(chain_loop, math.max(1, N // 50))
print(string.format('BENCH chain_us %.3f', chain_s * 1e6))
-- forward ops per chain: 3 per link + sum; the backward runs one rule per forward op.
print(string.format('BENCH chain_per_fwd_op_us %.3f', chain_s * 1e6 / (3 * CHAIN + 1)))
