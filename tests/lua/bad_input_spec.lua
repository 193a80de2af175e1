-- bad_input_spec.lua — every class of bad input gives a Lua error that names the op and what
-- was expected, and the runtime keeps working afterwards (checked after each case).
local gb = require 'gpubp'

local function fails_with(expected, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, 'expected an error containing: ' .. expected)
  assert.is_truthy(tostring(err):find(expected, 1, true),
    ('error %q does not contain %q'):format(tostring(err), expected))
  -- the runtime is still usable
  assert.are.equal(6, (gb.ones(2, 3) * 1):sum():item())
end

describe('bad input', function()
  it('nil and wrong-typed arguments', function()
    fails_with("bad argument #2 to 'add' (tensor or number expected, got nil)",
      function() return gb.ones(2) + nil end)
    fails_with('ones: expected sizes (numbers or one table), got nil', function() return gb.ones(nil) end)
    fails_with('tensor: expected a number or a nested table of numbers, got string',
      function() return gb.tensor('x') end)
    fails_with("bad argument #1 to 'matmul' (tensor expected, got number)",
      function() return gb.matmul(3, gb.ones(2, 2)) end)
    fails_with('tensor: ragged nested table (expected 2 entries at depth 2)',
      function() return gb.tensor({{1, 2}, {3}}) end)
  end)

  it('negative, zero and huge sizes', function()
    fails_with('zeros: invalid shape (-1,2) (sizes must be >= 0)', function() return gb.zeros(-1, 2) end)
    assert.are.same({0, 3}, gb.zeros(0, 3).shape)
    assert.are.equal(0, gb.zeros(0, 3):sum():item())
    fails_with('out of memory: tensor of shape (1000000,1000000,1000000) needs',
      function() return gb.zeros(1e6, 1e6, 1e6) end)
    fails_with('out of memory: cannot allocate 40000000000 bytes on cpu',
      function() return gb.zeros(1e5, 1e5) end)
    -- BLAS takes int sizes: a matrix side above 2^31 - 1 is refused, not truncated
    fails_with('matmul: a (0,2147483648) operand: matrix sizes above 2147483647 are not supported',
      function() return gb.zeros(0, 2 ^ 31):matmul(gb.zeros(2 ^ 31, 0)) end)
  end)

  it('mismatched shapes, dims and indices', function()
    fails_with('matmul: (2,3) x (2,3): inner sizes differ (3 vs 2)',
      function() return gb.ones(2, 3):matmul(gb.ones(2, 3)) end)
    fails_with('add: shapes (2,3) and (4) cannot be broadcast (dimension 1: 3 vs 4)',
      function() return gb.ones(2, 3) + gb.ones(4) end)
    fails_with('sum: dimension 3 out of range for a 2-D tensor (expected 1..2 or -2..-1)',
      function() return gb.ones(2, 3):sum(3) end)
    fails_with('view: shape (4) is invalid for a tensor of shape (2,3) (6 elements)',
      function() return gb.ones(2, 3):view(4) end)
    fails_with('narrow: start 3 and length 2 exceed dimension 2 (size 3) of (2,3)',
      function() return gb.ones(2, 3):narrow(2, 3, 2) end)
    fails_with('select: index 5 out of range for dimension 1 of (2,3)', function() return gb.ones(2, 3)[5] end)
    fails_with('index_select: index 0 at position 1 is out of range 1..2',
      function() return gb.ones(2, 3):index_select(1, gb.tensor({0}, {dtype = 'int64'})) end)
    fails_with('expand: cannot expand (2,3) to (3,3) (dimension 1: 2 vs 3)',
      function() return gb.ones(2, 3):expand(3, 3) end)
    fails_with('cross_entropy: label 4 at position 2 is out of range 1..3',
      function() return gb.cross_entropy(gb.ones(2, 3), gb.tensor({1, 4}, {dtype = 'int64'})) end)
  end)

  it('mismatched dtypes and devices', function()
    fails_with('cross_entropy: labels must be int64 class indices 1..C, got dtype float32 (convert with :long())',
      function() return gb.cross_entropy(gb.ones(2, 3), gb.tensor({1, 2})) end)
    fails_with('exp: argument 1 has dtype int64, expected float32 or float64 (convert with :float())',
      function() return gb.ones(2, {dtype = 'int64'}):exp() end)
    fails_with('conv2d: float64 is not supported on cpu; use :float()',
      function() return gb.nn.Conv2d(1, 1, 2)(gb.ones(1, 1, 3, 3, {dtype = 'float64'})) end)
    fails_with("to: 'gpu' is neither a dtype (float32, float64, int32, int64) nor a device (cpu, cuda, cuda:N)",
      function() return gb.ones(2):to('gpu') end)
    if not gb.cuda or not gb.cuda.is_available() then
      fails_with('to: device cuda:0 is not available', function() return gb.ones(2):to('cuda') end)
    end
  end)

  it('non-contiguous inputs where contiguity matters', function()
    local t = gb.arange(6):view(2, 3):t()
    fails_with('view: the tensor of shape (3,2) is not contiguous; use reshape or :contiguous() first',
      function() return t:view(6) end)
    assert.are.same({0, 3, 1, 4, 2, 5}, t:reshape(6):totable())
    assert.are.same({{0, 3}, {1, 4}, {2, 5}}, t:contiguous():totable())
  end)

  it('autograd misuse', function()
    local x = gb.ones(2, {requires_grad = true})
    fails_with('add_: in-place operation on a tensor that requires grad', function() x:add_(1) end)
    fails_with('backward: the tensor has shape (2); a gradient argument is needed',
      function() (x * 2):backward() end)
    local l = (x * 2):sum()
    l:backward()
    fails_with('backward: trying to go through the graph a second time (sum)', function() l:backward() end)
    fails_with('backward: the tensor does not require grad', function() gb.ones(1):backward() end)
  end)

  it('a NaN loss is traced to the op that produced it in anomaly mode', function()
    local x = gb.tensor({1, -1, 2}, {requires_grad = true})
    assert.is_true(x:log():sum():item() ~= x:log():sum():item()) -- NaN, silently, by default
    gb.set_detect_anomaly(true)
    finally(function() gb.set_detect_anomaly(false) end)
    fails_with('anomaly: log produced NaN at element 2 of its (3) result', function() return x:log() end)
    local z = gb.tensor({0, 1}, {requires_grad = true})
    local y = z:sqrt():sum() -- forward is finite; d sqrt(x)/dx at 0 is Inf
    fails_with('anomaly: backward of sqrt (in its div) produced Inf at element 1', function() y:backward() end)
  end)

  it('missing, truncated and garbled files name the file', function()
    fails_with('read_idx: /nonexistent/train-images-idx3-ubyte: cannot open',
      function() return gb.io.read_idx('/nonexistent/train-images-idx3-ubyte') end)
    local path = os.tmpname()
    local f = assert(io.open(path, 'wb'))
    f:write('\0\0\8\3\0\0\0\2\0\0\0\28\0\0\0\28abc') -- header promises 2x28x28 bytes
    f:close()
    fails_with('read_idx: ' .. path .. ': truncated', function() return gb.io.read_idx(path) end)
    f = assert(io.open(path, 'wb'))
    f:write('this is not a checkpoint at all')
    f:close()
    fails_with('load: ' .. path, function() return gb.load(path) end)
    os.remove(path)
    fails_with('/no/such/dir/ck.safetensors', function() gb.save('/no/such/dir/ck.safetensors', {w = gb.ones(2)}) end)
  end)
end)
