-- fault_step.lua — a small data-parallel loop in which one rank fails mid-step, for
-- fault_test.sh: `gpubp tests/dist/fault_step.lua MODE TIMEOUT` with MODE 'error' (rank 2
-- raises a Lua error between two all_reduces of a step), 'exit' (rank 2's script ends there,
-- as a host without gpubp's error hook would), 'kill' (rank 2 kills its own process with
-- SIGKILL there), 'stuck' (rank 2 sleeps outside any collective for longer than the timeout)
-- or 'elsewhere' (rank 2 waits in another collective, with a longer timeout). The other rank
-- must fail with a message, never hang.
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
    if mode == 'stuck' then
      os.execute('sleep ' .. (timeout + 3))
    elseif mode == 'elsewhere' then
      d.set_timeout(timeout + 4)
      d._wait(d._all_reduce_async(w.grad, 'mean', true)) -- no header: rank 1 waits in its own
    end
    if mode ~= 'kill' then goto continue end
    local f = assert(io.open('/proc/self/stat'))
    local pid = f:read('n')
    f:close()
    io.stderr:write('rank 2: killing myself (pid ' .. pid .. ')\n')
    io.stderr:flush()
    os.execute('kill -9 ' .. pid)
  end
  ::continue::
  d.all_reduce(gb.tensor({ loss:item() }), 'sum')
  gb.no_grad(function() w:sub_(w.grad * 0.01) end)
  w.grad = nil
end
print('rank ' .. r .. ' finished')
d.finalize()
