-- gb_bench.lua — what the gpubp-side benchmarks share (loaded with dofile next to them):
-- the median of repeats, and synthetic MNIST-shaped batches on the benchmark's device.
local gb = require('gpubp')

local M = {}

function M.median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end

-- nb batches of bs (784-feature inputs, int64 labels 1..10) on `device`, reproducibly.
function M.synthetic_batches(nb, bs, device)
  gb.manual_seed(1)
  math.randomseed(1)
  local xs, ys = {}, {}
  for i = 1, nb do
    xs[i] = gb.randn(bs, 784):to(device)
    local lab = {}
    for j = 1, bs do lab[j] = math.random(10) end
    ys[i] = gb.tensor(lab, { dtype = 'int64' }):to(device)
  end
  return xs, ys
end

return M
