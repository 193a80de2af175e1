-- gb_sgemm.lua — benchmark (e) through the whole gpubp stack: a:matmul(b) on n x n float32
-- matrices, GFLOP/s (best of a few). Prints "BENCH sq<n>_gflops <value>".
--   build/gpubp scripts/bench/gb_sgemm.lua [device=cpu] [sizes=512,1024,2048,4096]
local gb = require('gpubp')
local device = arg[1] or 'cpu'
local sizes = {}
for n in (arg[2] or '512,1024,2048,4096'):gmatch('%d+') do sizes[#sizes + 1] = tonumber(n) end

for _, n in ipairs(sizes) do
  local a, b = gb.randn(n, n), gb.randn(n, n)
  if device ~= 'cpu' then a, b = a:to(device), b:to(device) end
  local c = gb.no_grad(function() return a:matmul(b) end)
  c:sum():item() -- warm-up and device sync
  local calls = math.max(3, math.floor(6e10 / (2 * n ^ 3) + 0.5))
  local best = math.huge
  for _ = 1, 3 do
    local t0 = gb.time()
    gb.no_grad(function()
      for _ = 1, calls do c = a:matmul(b) end
    end)
    c:sum():item()
    best = math.min(best, (gb.time() - t0) / calls)
  end
  print(string.format('BENCH sq%d_gflops %.1f', n, 2 * n ^ 3 / best * 1e-9))
end
