-- gb_op_overhead.lua — benchmark (b), gpubp side: host time per op on 1-element tensors,
-- without autograd, with autograd (the op records a tape node), and a forward+backward
-- chain. Prints "BENCH <key> <microseconds>" lines for scripts/bench/run.py.
--   build/gpubp scripts/bench/gb_op_overhead.lua [device=cpu] [iters=200000]
local gb = require('gpubp')
local device = arg[1] or 'cpu'
local N = math.tointeger(tonumber(arg[2] or '200000')) or 200000
local REPS = 5
local CHAIN = 10 -- chain links; each link is 3 ops: y = relu(y * s) + s

local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end

local function to_dev(t)
  if device ~= 'cpu' then return t:to(device) end
  return t
end

-- Median over REPS of the seconds per iteration of fn(n).
local function per_iter(fn, n)
  fn(math.max(1, n // 10)) -- warm-up
  local ts = {}
  for r = 1, REPS do
    local t0 = gb.time()
    fn(n)
    ts[r] = (gb.time() - t0) / n
  end
  return median(ts)
end

local a, b = to_dev(gb.ones(1)), to_dev(gb.ones(1))
local function add_loop(n)
  local c
  for _ = 1, n do c = a + b end
  return c
end

local us_nograd = gb.no_grad(function() return per_iter(add_loop, N) end) * 1e6
print(string.format('BENCH add_nograd_us %.3f', us_nograd))

local ag = to_dev(gb.ones(1)):requires_grad_()
local function add_grad_loop(n)
  local c
  for _ = 1, n do c = ag + b end
  return c
end
print(string.format('BENCH add_grad_us %.3f', per_iter(add_grad_loop, N) * 1e6))

local x = to_dev(gb.ones(1)):requires_grad_()
local s = to_dev(gb.full({ 1 }, 0.5))
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
