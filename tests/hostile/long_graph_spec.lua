-- long_graph_spec.lua — issue 19, class 5: releasing a long autograd graph does not recurse
-- once per node. `total = total + loss` over a long run (a common mistake) builds a chain as
-- long as the run; it used to overflow the C stack when collected (400,000 steps crashed;
-- this spec's 300,000 needed about 40 MB of stack before the fix, 5x the default 8 MB).
local gb = require 'gpubp'
local support = dofile('tests/lua/support.lua')

local N = 300000

-- stderr (with stdout) of a fresh gpubp running `script` (the warning is once per runtime)
local function run(script)
  local path = os.tmpname()
  local f = assert(io.open(path, 'w'))
  f:write(script)
  f:close()
  local p = io.popen(support.quote(support.gpubp_binary()) .. ' --device cpu ' .. support.quote(path)
    .. ' 2>&1')
  local out = p:read('a')
  p:close()
  os.remove(path)
  return out, path
end

-- a small training loop; `extra` is pasted into the step after the backward
local LOOP = [[
local w = gb.randn(4, 3):requires_grad_()
local x, y = gb.randn(8, 4), gb.randn(8, 3)
local opt = gb.optim.SGD({ w }, { lr = 0.01 })
local total = 0
for step = 1, %d do
  opt:zero_grad()
  local loss = ((x:matmul(w) - y) ^ 2):mean()
  loss:backward(%s)
  opt:step()
  %s
end
print('done', type(total))
]]

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

  it('warns once, at the backward line, when a graph grows across steps', function()
    local out, path = run(LOOP:format(200, '', 'total = total + loss'))
    assert.is_truthy(out:find('done\tuserdata', 1, true), out)
    local _, count = out:gsub('warning: the autograd graph grew', '')
    assert.are.equal(1, count, out)
    -- the position is the user's backward line (line 8 of the script), not a library file
    assert.is_truthy(out:find(path:match('[^/]+$') .. ':8: warning: the autograd graph grew at '
      .. 'each of the last 50 backward calls and now holds ', 1, true), out)
    assert.is_truthy(out:find('Accumulate loss:item() or loss:detach() instead', 1, true), out)
  end)

  it('stays silent for correct loops', function()
    for _, case in ipairs({
      { '', 'total = total + loss:item()' },             -- the fix the warning suggests
      { '', 'total = total + loss:detach()' },
      { '{ retain_graph = true }', 'total = total + loss:item()' }, -- kept by request
      { '', 'local extra = (x:matmul(w)):sum(); extra:backward()' }, -- two backwards a step
      { '', 'HIST = HIST or {}; HIST[#HIST + 1] = loss' }, -- backpropagated losses kept
    }) do
      local out = run(LOOP:format(200, case[1], case[2]))
      assert.is_truthy(out:find('done', 1, true), out)
      assert.is_falsy(out:find('warning', 1, true), case[2] .. ': ' .. out)
    end
  end)
end)
