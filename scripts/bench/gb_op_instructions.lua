-- gb_op_instructions.lua — per-op host instructions of float32 1-element ops, for cachegrind
-- (deterministic on a loaded machine, unlike timings). Run it twice per op, with N = 0 and
-- N = 20000, and divide the difference of the "I refs" totals by N:
--   valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
--     build/gpubp scripts/bench/gb_op_instructions.lua add 20000
-- ops: add (tensor + tensor), relu, muln (tensor * number), sum, addg (add recording a node)
local gb = require('gpubp')
local op, N = arg[1] or 'add', math.tointeger(tonumber(arg[2] or '0')) or 0
local a, b = gb.ones(1), gb.ones(1)
local ag = gb.ones(1):requires_grad_()
local c
if op == 'addg' then
  for _ = 1, N do c = ag + b end
else
  gb.no_grad(function()
    if op == 'add' then
      for _ = 1, N do c = a + b end
    elseif op == 'relu' then
      for _ = 1, N do c = a:relu() end
    elseif op == 'muln' then
      for _ = 1, N do c = a * 0.5 end
    elseif op == 'sum' then
      for _ = 1, N do c = a:sum() end
    else
      error('gb_op_instructions: unknown op ' .. tostring(op))
    end
  end)
end
