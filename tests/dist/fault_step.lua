-- fault_step.lua — a small data-parallel loop in which one rank fails mid-step, for
-- fault_test.sh: `gpubp tests/dist/fault_step.lua MODE TIMEOUT` with MODE 'error' (rank 2
-- raises a Lua error between two all_reduces of a step), 'exit' (rank 2's script ends there,
-- as a host without gpubp's error hook would) or 'kill' (rank 2 kills its own process with
-- SIGKILL there). The other rank must fail with a message, never hang.
local gb = require('gpubp')
local d = gb.distributed
local mode, timeout = arg[1], tonumber(arg[2])
d.init({ timeout = timeout })
local r = d.rank()
gb.manual_seed(1)
local w = gb.randn(16, 8, { requires_grad = true })
for step = 1, 6 do
  local x = gb.randn(4, 16)
  local loss = (x:matmul(w)):relu():sum()
  loss:backward()
  d.all_reduce(w.grad, 'mean')
  if step == 3 and r == 2 then
    if mode == 'error' then error('bad label 11 at step 3') end
    if mode == 'exit' then os.exit(0, true) end -- ends early: finalizes at exit
    local f = assert(io.open('/proc/self/stat'))
    local pid = f:read('n')
    f:close()
    io.stderr:write('rank 2: killing myself (pid ' .. pid .. ')\n')
    io.stderr:flush()
    os.execute('kill -9 ' .. pid)
  end
  d.all_reduce(gb.tensor({ loss:item() }), 'sum')
  gb.no_grad(function() w:sub_(w.grad * 0.01) end)
  w.grad = nil
end
print('rank ' .. r .. ' finished')
d.finalize()
