-- support.lua — helpers of the hostile-input specs (loaded with dofile, not a spec itself).
local gb = require 'gpubp'
local M = {}

-- The message fn(...) raises, without its 'file:line: ' position; fails when nothing raises.
function M.err_of(fn, ...)
  local ok, msg = pcall(fn, ...)
  assert(not ok, 'expected an error, but the call succeeded')
  return (tostring(msg):gsub('^[^:\n]*:%d+: ', '', 1))
end

-- The runtime still computes: a sum, a matmul and a gradient, checked by hand.
function M.still_computes()
  assert(gb.arange(1, 5):sum():item() == 10, 'sum')
  local m = gb.tensor({{1, 2}, {3, 4}}):matmul(gb.tensor({{5}, {6}}))
  assert(m[1]:item() == 17 and m[2]:item() == 39, 'matmul')
  local x = gb.tensor({1, 2, 3}, {requires_grad = true})
  ;(x * x):sum():backward()
  local g = x.grad:totable()
  assert(g[1] == 2 and g[2] == 4 and g[3] == 6, 'gradient')
  collectgarbage()
  return true
end

-- A fresh temporary directory (removed by the caller with M.rmdir).
function M.tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p '" .. p .. "'"))
  return p
end

function M.rmdir(p) os.execute("rm -rf '" .. p .. "'") end

return M
