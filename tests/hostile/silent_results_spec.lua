-- silent_results_spec.lua — issue 19, silent wrong results: each case is now an error or
-- the right answer (values computed by hand in the comments).
local gb = require 'gpubp'

local function fails_with(expected, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, 'expected an error containing: ' .. expected)
  assert.is_truthy(tostring(err):find(expected, 1, true),
    ('error %q does not contain %q'):format(tostring(err), expected))
end

describe('silent wrong results', function()
  it('t.grad = ... checks shape, dtype and device, and copies', function()
    local t = gb.tensor({ 1, 2, 3 }):requires_grad_()
    -- an expanded view used to be kept as is: backward then added 1+2+3 into one element
    t.grad = gb.zeros(1):expand(3)
    ;(t * gb.tensor({ 1, 2, 3 })):sum():backward()
    assert.are.same({ 1, 2, 3 }, t.grad:totable())
    -- no aliasing: changing the assigned tensor later does not change .grad
    local g = gb.ones(3)
    t.grad = g
    g:fill_(5)
    assert.are.same({ 1, 1, 1 }, t.grad:totable())
    t.grad = nil
    t.grad = gb.zeros(3)
    assert.are.same({ 1, 2, 3 }, t:totable()) -- t.grad = t would have aliased the leaf
    fails_with('grad: assigned gradient (3) int64 on cpu does not match the tensor (3) float32 on cpu',
      function() t.grad = gb.zeros(3, { dtype = 'int64' }) end)
    fails_with('grad: assigned gradient (2) float32 on cpu does not match the tensor (3)',
      function() t.grad = gb.zeros(2) end)
  end)

  it('in-place ops refuse an expanded target and read overlapping inputs from a copy', function()
    local e = gb.zeros(1):expand(3)
    fails_with('add: cannot write in place into the expanded view (3): several of its elements share one memory location',
      function() e:add_(gb.tensor({ 1, 2, 3 })) end)
    fails_with('fill: cannot write in place into the expanded view (3)', function() e:fill_(1) end)
    assert.are.same({ 0 }, e:narrow(1, 1, 1):contiguous():totable())
    -- x + x^T in place: [[1,2],[3,4]] -> [[2,5],[5,8]]
    local x = gb.tensor({ { 1, 2 }, { 3, 4 } })
    x:add_(x:t())
    assert.are.same({ { 2, 5 }, { 5, 8 } }, x:totable())
    -- a shifted copy within one tensor: [1,2,3,4,5] -> [1,1,2,3,4] (memmove semantics)
    local y = gb.tensor({ 1, 2, 3, 4, 5 })
    y:narrow(1, 2, 4):copy_(y:narrow(1, 1, 4))
    assert.are.same({ 1, 1, 2, 3, 4 }, y:totable())
  end)

  it('gb.cat with a hole in its list is an error, not a shorter result', function()
    local a, b = gb.ones(2), gb.zeros(2)
    fails_with('cat: element 2 is not a tensor (got nil)', function() return gb.cat({ a, nil, b }) end)
    fails_with('stack: element 2 is not a tensor (got nil)', function() return gb.stack({ a, nil, b }) end)
    assert.are.same({ 1, 1, 0, 0 }, gb.cat({ a, b }):totable())
  end)

  it('view(-1, 0) is an error, not a tensor of size -1', function()
    fails_with('view: cannot infer the size -1 in (-1,0)', function() return gb.zeros(0):view(-1, 0) end)
  end)

  it('NaN, inf and out-of-range values do not convert to integers', function()
    fails_with('copy: element 2 of the (3) float32 tensor is nan, which int64 cannot hold',
      function() return gb.tensor({ 1, 0 / 0, 3 }):long() end)
    fails_with('copy: element 1 of the (1) float32 tensor is inf, which int32 cannot hold',
      function() return gb.tensor({ 1 / 0 }):int() end)
    fails_with('copy: element 1 of the (1) int64 tensor is 4294967296, which int32 cannot hold',
      function() return gb.tensor({ 2^32 }, { dtype = 'int64' }):int() end)
    fails_with('fill: the value nan cannot be converted to int64',
      function() return gb.full({ 2 }, 0 / 0, { dtype = 'int64' }) end)
    fails_with('tensor: element 1 is -inf, which int64 cannot hold',
      function() return gb.tensor({ -1 / 0 }, { dtype = 'int64' }) end)
    fails_with('tensor: element 1 is 3000000000, which int32 cannot hold',
      function() return gb.tensor({ 3000000000 }, { dtype = 'int32' }) end)
    assert.are.same({ 2, -2 }, gb.tensor({ 2.7, -2.7 }):long():totable()) -- truncation, as PyTorch
  end)

  it('tostring prints int64 max and min exactly', function()
    local t = gb.tensor({ math.maxinteger, math.mininteger }, { dtype = 'int64' })
    assert.is_truthy(tostring(t):find('[9223372036854775807, -9223372036854775808]', 1, true), tostring(t))
  end)

  it('backward honours retain_graph after a nil gradient and refuses a non-tensor gradient', function()
    local x = gb.tensor({ 1, 2 }):requires_grad_()
    local y = (x * x):sum()
    y:backward(nil, { retain_graph = true })
    y:backward() -- the graph was retained: a second pass works and accumulates
    assert.are.same({ 4, 8 }, x.grad:totable())
    fails_with('backward: the gradient (argument 1) must be a tensor or nil, got string',
      function() y:backward('x') end)
    fails_with("backward: unknown option 'retain_grap'",
      function() (x * 2):sum():backward(nil, { retain_grap = true }) end)
    local z = (x * 3):sum()
    z:backward({ retain_graph = true }) -- the options alone
    z:backward()
  end)
  it('index_add and scatter_add keep requires_grad and give both gradients', function()
    -- index_add along 1: out = [1+20, 2, 3+10+30]; with w = [1,2,3], d/dbase = w and
    -- d/dsrc = w at the indices = [3, 1, 3]
    local base = gb.tensor({ 1, 2, 3 }):requires_grad_()
    local src = gb.tensor({ 10, 20, 30 }):requires_grad_()
    local idx = gb.tensor({ 3, 1, 3 }, { dtype = 'int64' })
    local out = base:index_add(1, idx, src)
    assert.is_true(out.requires_grad)
    assert.are.same({ 21, 2, 43 }, out:totable())
    ;(out * gb.tensor({ 1, 2, 3 })):sum():backward()
    assert.are.same({ 1, 2, 3 }, base.grad:totable())
    assert.are.same({ 3, 1, 3 }, src.grad:totable())
    -- scatter_add along 2 of a (2,3): src[i][j] goes to column idx[i][j]; d/dsrc = w gathered
    local b2 = gb.zeros(2, 3):requires_grad_()
    local s2 = gb.tensor({ { 1, 2 }, { 3, 4 } }):requires_grad_()
    local i2 = gb.tensor({ { 3, 1 }, { 2, 2 } }, { dtype = 'int64' })
    local o2 = gb.scatter_add(b2, 2, i2, s2)
    assert.is_true(o2.requires_grad)
    assert.are.same({ { 2, 0, 1 }, { 0, 7, 0 } }, o2:totable())
    ;(o2 * gb.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })):sum():backward()
    assert.are.same({ { 1, 2, 3 }, { 4, 5, 6 } }, b2.grad:totable())
    assert.are.same({ { 3, 1 }, { 5, 5 } }, s2.grad:totable())
    -- only the source needs grad: the base gets none
    local s3 = gb.ones(2):requires_grad_()
    gb.zeros(3):index_add(1, gb.tensor({ 1, 1 }, { dtype = 'int64' }), s3):sum():backward()
    assert.are.same({ 1, 1 }, s3.grad:totable())
  end)
end)
