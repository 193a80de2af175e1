-- conv_options_spec.lua — the options of Conv1d/Conv2d (dilation, groups, depthwise,
-- padding='same'/'valid') and of the pooling layers against numbers recorded from PyTorch
-- (recipe: tests/fixtures/conv_options/make_conv_options.py, which also holds each case's
-- constructor arguments), forward and all gradients, through the rows' own kernels and
-- through oneDNN (gb._conv_dnnl 'off' and 'always'); then the options' error messages.
local gb = require 'gpubp'
local nn = gb.nn
local cases = dofile('tests/fixtures/conv_options/expected.lua')

local support = dofile('tests/lua/support.lua')
local fill, flat = support.fill, support.flat

local function assert_close(got, want, what)
  support.assert_list_close(flat(got:contiguous()), want, what, 2e-5)
end

local function run_case(c)
  local args = { table.unpack(c.args) }
  args[#args + 1] = c.opts
  local layer = nn[c.class](table.unpack(args))
  gb.no_grad(function()
    if layer.weight then layer.weight:copy_(fill(layer.weight.shape, 0.91, 0.3)) end
    if layer.bias then layer.bias:copy_(fill(layer.bias.shape, 1.3, 0.5)) end
  end)
  local x = fill(c.x_shape, 0.37, 0.1):requires_grad_()
  local y = layer(x)
  assert.are.same(c.y_shape, y.shape, c.name .. ': output shape')
  assert_close(y, c.y, c.name .. ': output')
  ;(y * fill(y.shape, 0.53, 0.7)):sum():backward()
  assert_close(x.grad, c.dx, c.name .. ': d input')
  if c.dw then assert_close(layer.weight.grad, c.dw, c.name .. ': d weight') end
  if c.db then assert_close(layer.bias.grad, c.db, c.name .. ': d bias') end
  assert.are.equal(c.db ~= nil, layer.bias ~= nil, c.name .. ': bias')
end

describe('convolution and pooling options match PyTorch', function()
  for _, mode in ipairs({ 'off', 'always' }) do
    for _, c in ipairs(cases) do
      it(c.name .. ' (oneDNN ' .. mode .. ')', function()
        local was = gb._conv_dnnl(mode)
        local ok, err = pcall(run_case, c)
        gb._conv_dnnl(was)
        assert(ok, err)
      end)
    end
  end
end)

describe('convolution options', function()
  it('keep the weight layout (out, in/groups, k...) and fan-in of PyTorch', function()
    local c = nn.Conv2d(6, 4, {3, 2}, { groups = 2 })
    assert.are.same({4, 3, 3, 2}, c.weight.shape)
    assert.is_true(c.bias:abs():max():item() <= 1 / math.sqrt(3 * 3 * 2))
    local d = nn.Conv1d(4, 8, 5, { groups = 4, dilation = 2 })
    assert.are.same({8, 1, 5}, d.weight.shape)
    assert.are.equal('Conv1d(4 -> 8, kernel 5, stride 1, padding 0, dilation 2, groups 4)',
      tostring(d))
    assert.are.equal("Conv2d(6 -> 4, kernel 3x2, stride 1x1, padding 'same', groups 2)",
      tostring(nn.Conv2d(6, 4, {3, 2}, { groups = 2, padding = 'same' })))
  end)

  it('take an unbatched input as a batch of one', function()
    local c, p = nn.Conv2d(4, 6, 3, { groups = 2, padding = 1 }), nn.MaxPool1d(2)
    local x = gb.randn(4, 5, 7)
    local want = c(x:unsqueeze(1)):select(1, 1)
    assert.are.same({ 6, 5, 7 }, c(x).shape)
    assert.is_true((c(x) - want):abs():max():item() == 0)
    assert.are.same({ 4, 2 }, p(gb.randn(4, 5)).shape)
    assert.has_error(function() c(gb.ones(3, 5, 7)) end,
      'Conv2d: expected input (N, 4, H, W), got (3,5,7)')
  end)

  it('name what is wrong', function()
    assert.has_error(function() nn.Conv2d(4, 6, 3, { groups = 3 }) end,
      'Conv2d: in_channels (4) and out_channels (6) must be divisible by groups (3)')
    assert.has_error(function() nn.Conv1d(4, 6, 3, { groups = 4 }) end,
      'Conv1d: in_channels (4) and out_channels (6) must be divisible by groups (4)')
    assert.has_error(function() nn.Conv2d(4, 4, 3, { groups = 0 }) end,
      'Conv2d: groups must be a positive integer, got 0')
    assert.has_error(function() nn.Conv2d(4, 4, 3, { dilation = 0 }) end,
      'Conv2d: dilation must be a positive integer or {h, w}, got 0')
    assert.has_error(function() nn.Conv1d(4, 4, 3, { dilation = {1, 2} }) end,
      'Conv1d: dilation must be a positive integer, got {1, 2}')
    assert.has_error(function() nn.Conv2d(4, 4, 3, { stride = 2, padding = 'same' }) end,
      "Conv2d: padding='same' is not supported for strided convolutions (stride 2x2)")
    assert.has_error(function() nn.Conv2d(4, 4, 3, { padding = 'full' }) end,
      "Conv2d: padding must be 'same', 'valid', a non-negative integer or {h, w}, got 'full'")
    assert.has_error(function() nn.Conv2d(4, 4, 3, { dilations = 2 }) end,
      "Conv2d: unknown option 'dilations'")
    assert.has_error(function() nn.Conv2d(4, 4, 3, { groups = 2.5 }) end,
      "Conv2d: option 'groups' expects an integer, got number")
    -- the dilated kernel spans 1 + 3 * 2 = 7 > 5 + 2 * 0
    assert.has_error(function() nn.Conv2d(1, 1, 3, { dilation = 3 })(gb.ones(1, 1, 5, 5)) end,
      'conv2d: kernel 3x3 with dilation 3x3 spans 7x7, more than the padded input 5x5')
    assert.has_error(function() nn.Conv1d(1, 1, 4, { dilation = 2 })(gb.ones(1, 1, 6)) end,
      'conv2d: kernel 1x4 with dilation 1x2 spans 1x7, more than the padded input 1x6')
  end)

  it('the conv2d row checks groups against the tensors it gets', function()
    local function err(...)
      local ok, e = pcall(gb._conv2d, ...)
      assert.is_false(ok)
      return e
    end
    assert.matches('conv2d: input (1,4,5,5) has 4 channels, not divisible by groups=3',
      err(gb.ones(1, 4, 5, 5), gb.ones(6, 2, 3, 3), gb.ones(6), 3, 3, 1, 1, 0, 0, 1, 1, 3), 1, true)
    assert.matches('conv2d: weight (6,3,3,3) does not fit 4 input channels in 2 groups and a 3x3 '
      .. 'kernel: expected (6,2,3,3)',
      err(gb.ones(1, 4, 5, 5), gb.ones(6, 3, 3, 3), gb.ones(6), 3, 3, 1, 1, 0, 0, 1, 1, 2), 1, true)
    assert.matches('conv2d: weight (5,2,3,3) has 5 output channels, not divisible by groups=2',
      err(gb.ones(1, 4, 5, 5), gb.ones(5, 2, 3, 3), gb.ones(5), 3, 3, 1, 1, 0, 0, 1, 1, 2), 1, true)
    assert.matches('conv2d: dilation 0x1 and groups 1 must be >= 1',
      err(gb.ones(1, 4, 5, 5), gb.ones(5, 4, 3, 3), gb.ones(5), 3, 3, 1, 1, 0, 0, 0, 1, 1), 1, true)
    -- a hostile dilation is refused by checked arithmetic, not wrapped
    assert.matches('conv2d: kernel 3x3 with dilation 4611686018427387904x1 and stride 1x1 is too '
      .. 'large', err(gb.ones(1, 4, 5, 5), gb.ones(5, 4, 3, 3), gb.ones(5), 3, 3, 1, 1, 0, 0,
      1 << 62, 1, 1), 1, true)
  end)
end)

describe('pooling options', function()
  it('read sizes as PyTorch and print what differs from the defaults', function()
    local p = nn.MaxPool2d(3, { stride = 2, dilation = { 1, 2 }, ceil_mode = true })
    assert.are.same({ {3, 3}, {2, 2}, {0, 0}, {1, 2} }, { p.kernel_size, p.stride, p.padding,
      p.dilation })
    assert.are.equal('MaxPool2d(kernel 3x3, stride 2x2, padding 0x0, dilation 1x2, ceil_mode=true)',
      tostring(p))
    assert.are.equal('AvgPool1d(kernel 4, stride 4, padding 1, count_include_pad=false)',
      tostring(nn.AvgPool1d(4, { padding = 1, count_include_pad = false })))
    assert.are.equal('AvgPool2d(kernel 2x2, stride 2x2, padding 0x0, divisor_override=3)',
      tostring(nn.AvgPool2d(2, { divisor_override = 3 })))
    -- ceil_mode: a window hanging over the end counts; one starting past the input does not
    assert.are.same({ 1, 1, 3, 4 }, nn.MaxPool2d(2, { ceil_mode = true })(gb.ones(1, 1, 5, 7)).shape)
    assert.are.same({ 1, 1, 1, 1 },
      nn.MaxPool2d(3, { stride = 2, ceil_mode = true })(gb.ones(1, 1, 2, 2)).shape)
    assert.are.same({ 1, 1, 2 }, nn.AvgPool1d(2, { stride = 2, padding = 1,
      ceil_mode = true })(gb.ones(1, 1, 2)).shape) -- (2 + 2 - 2 + 1) // 2 + 1 = 2, not 3
  end)

  it('name what is wrong', function()
    assert.has_error(function() nn.MaxPool2d(2, { return_indices = true }) end,
      "MaxPool2d: unknown option 'return_indices'")
    assert.has_error(function() nn.AvgPool1d(2, { divisor_override = 2 }) end,
      "AvgPool1d: unknown option 'divisor_override'")
    assert.has_error(function() nn.AvgPool2d(2, { divisor_override = 0 }) end,
      'AvgPool2d: divisor_override must be a positive integer, got 0')
    assert.has_error(function() nn.MaxPool2d(2, { dilation = 0 }) end,
      'MaxPool2d: dilation must be a positive integer or {h, w}, got 0')
    assert.has_error(function() nn.MaxPool1d({2, 2}) end,
      'MaxPool1d: kernel_size must be a positive integer, got {2, 2}')
    assert.has_error(function() nn.MaxPool2d(2, { ceil_mode = 1 }) end,
      "MaxPool2d: option 'ceil_mode' expects a boolean, got number")
    assert.has_error(function() nn.MaxPool2d(2)(gb.ones(2, 1, 1, 4, 4)) end,
      'MaxPool2d: expected input (N, C, H, W), got (2,1,1,4,4)')
    assert.has_error(function() nn.AvgPool1d(2)(gb.ones(4)) end,
      'AvgPool1d: expected input (N, C, L), got (4)')
    -- no output: the (dilated) kernel does not fit, ceil_mode or not
    assert.has_error(function() nn.MaxPool2d(3, { stride = 1, ceil_mode = true })(gb.ones(1, 1, 2, 2)) end,
      'max_pool2d: kernel 3x3 is larger than the padded input 2x2')
    assert.has_error(function() nn.MaxPool1d(2, { dilation = 4 })(gb.ones(1, 1, 4)) end,
      'max_pool2d: kernel 1x2 with dilation 1x4 spans 1x5, more than the padded input 1x4')
    assert.has_error(function() nn.AvgPool2d(2, { padding = 2 })(gb.ones(1, 1, 4, 4)) end,
      'avg_pool2d: kernel 2x2, stride 2x2, padding 2x2: sizes and strides must be >= 1 and padding '
      .. 'at most half the kernel')
  end)
end)

describe('gb.nn.functional convolution and pooling', function()
  local F = nn.functional
  it('give what the layers give with the same weights and options', function()
    local c = nn.Conv2d(4, 6, 3, { groups = 2, padding = 'same', dilation = { 2, 1 } })
    local x = gb.randn(2, 4, 7, 8)
    local opts = { groups = 2, padding = 'same', dilation = { 2, 1 } }
    assert.are.equal(0, (F.conv2d(x, c.weight, c.bias, opts) - c(x)):abs():max():item())
    local d = nn.Conv1d(3, 6, 4, { groups = 3, stride = 2, bias = false })
    local x1 = gb.randn(2, 3, 11)
    assert.are.equal(0, (F.conv1d(x1, d.weight, nil, { groups = 3, stride = 2 }) - d(x1)):abs()
      :max():item())
    local p = gb.randn(2, 3, 7, 6)
    assert.are.equal(0, (F.max_pool2d(p, 3, { stride = 2, ceil_mode = true }) - nn.MaxPool2d(3,
      { stride = 2, ceil_mode = true })(p)):abs():max():item())
    assert.are.equal(0, (F.avg_pool2d(p, 2, { divisor_override = 3 }) - nn.AvgPool2d(2,
      { divisor_override = 3 })(p)):abs():max():item())
    assert.are.same({ 2, 3, 3 }, F.max_pool1d(x1, 3).shape)
    assert.are.same({ 2, 3, 6 }, F.avg_pool1d(x1, 2, { ceil_mode = true }).shape)
  end)

  it('name what is wrong', function()
    local x, w = gb.randn(1, 4, 5, 5), gb.randn(6, 2, 3, 3)
    assert.has_error(function() F.conv2d(x, w, nil, { group = 2 }) end,
      "conv2d: unknown option 'group'")
    assert.has_error(function() F.conv2d(x, gb.randn(6, 2, 3)) end,
      'conv2d: expected a weight (out, in/groups, kh, kw), got (6, 2, 3)')
    assert.has_error(function() F.conv1d(x, 3) end,
      'conv1d: expected (input, weight [, bias [, opts]]) tensors, got userdata, number, nil')
    assert.has_error(function() F.conv2d(x, w, nil, { groups = 2, stride = 2, padding = 'same' }) end,
      "conv2d: padding='same' is not supported for strided convolutions (stride 2x2)")
    assert.has_error(function() F.max_pool2d(x, 2, { stride = 0 }) end,
      'MaxPool2d: stride must be a positive integer or {h, w}, got 0')
  end)
end)
