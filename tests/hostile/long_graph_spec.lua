-- long_graph_spec.lua — issue 19, class 5: releasing a long autograd graph does not recurse
-- once per node. `total = total + loss` over a long run (a common mistake) builds a chain as
-- long as the run; it used to overflow the C stack when collected (400,000 steps crashed;
-- this spec's 300,000 needed about 40 MB of stack before the fix, 5x the default 8 MB).
local gb = require 'gpubp'

local N = 300000

describe('long graphs', function()
  it('a chain of ' .. N .. ' nodes is released when collected, and at exit', function()
    local w = gb.ones(1, { requires_grad = true })
    local total = gb.zeros(1)
    for _ = 1, N do total = total + w end -- each step keeps the whole history
    assert.are.equal(N, total:item())
    total = nil
    collectgarbage()
    collectgarbage()
    -- the runtime goes on: a small graph still differentiates
    local y = (w * 3):sum()
    y:backward()
    assert.are.equal(3, w.grad:item())
  end)

  it('a chain of ' .. N .. ' nodes goes through backward and is released after it', function()
    local w = gb.ones(1, { requires_grad = true })
    local total = gb.zeros(1)
    for _ = 1, N do total = total + w * 2 end
    total:sum():backward()
    assert.are.equal(2 * N, w.grad:item())
    total = nil
    collectgarbage()
    assert.is_true(gb.memory_stats().count < 10000)
  end)
end)
