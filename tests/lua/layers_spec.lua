-- layers_spec.lua — the nn layers of issue 15 against numbers recorded from PyTorch 1.13
-- (recipe: tests/fixtures/layers/make_layers.py): BatchNorm2d (training, running estimates,
-- eval), AvgPool2d (both divisor rules), AdaptiveAvgPool2d, Conv1d, Conv2d with wide
-- padding, SiLU, ELU, Softplus; then Dropout2d, ModuleList and ModuleDict by their behaviour.
local gb = require 'gpubp'
local support = dofile('tests/lua/support.lua')
local fill, flat = support.fill, support.flat
local close = support.assert_list_close
local nn = gb.nn
local E = dofile('tests/fixtures/layers/expected.lua')

-- y against E[name], then the gradients of sum(y * fill(y.shape, 0.53, 0.7))
local function check(name, y, inputs)
  assert.are.same(E[name .. '_shape'], y.shape)
  close(flat(y), E[name], name)
  local loss = (y * fill(y.shape, 0.53, 0.7)):sum()
  loss:backward()
  for k, t in pairs(inputs) do close(flat(t.grad), E[name .. '_d' .. k], name .. ' d' .. k) end
end

describe('BatchNorm2d', function()
  it('matches PyTorch in training (gradients, running estimates) and eval', function()
    local bn = nn.BatchNorm2d(3, { momentum = 0.2, eps = 1e-3 })
    gb.no_grad(function()
      bn.weight:copy_(fill({ 3 }, 0.7, 0.2) + 1.5)
      bn.bias:copy_(fill({ 3 }, 1.1, 0.9))
    end)
    local x = (fill({ 4, 3, 3, 5 }, 0.37, 0.1) * 2 + 0.5):requires_grad_()
    check('bn', bn(x), { x = x, w = bn.weight, b = bn.bias })
    bn(fill({ 2, 3, 4, 4 }, 0.29, 1.3) * 3)
    close(flat(bn.running_mean), E.bn_running_mean, 'running_mean')
    close(flat(bn.running_var), E.bn_running_var, 'running_var')
    bn:eval()
    local xe = fill({ 2, 3, 2, 2 }, 0.61, 0.4):requires_grad_()
    check('bn_eval', bn(xe), { x = xe })
  end)

  it('names a wrong input and a batch of one value per channel', function()
    local bn = nn.BatchNorm2d(3)
    assert.has_error(function() bn(gb.ones(2, 3, 4)) end,
      'BatchNorm2d: expected input of shape (N, 3, H, W), got (2,3,4)')
    assert.has_error(function() bn(gb.ones(1, 3, 1, 1)) end,
      'BatchNorm2d: expected more than 1 value per channel when training, got input of shape (1,3,1,1)')
    assert.has_error(function() nn.BatchNorm2d(3, { momentun = 0.1 }) end,
      "BatchNorm2d: unknown option 'momentun'")
  end)

  it('without affine or running statistics normalizes with the batch in both modes', function()
    local bn = nn.BatchNorm2d(2, { affine = false, track_running_stats = false })
    assert.are.equal(0, #bn:parameters())
    local x = fill({ 3, 2, 2, 2 }, 0.7, 0.1)
    bn:eval()
    local y = bn(x)
    for c = 1, 2 do
      local ch = y:select(2, c)
      assert.is_true(math.abs(ch:mean():item()) < 1e-6)
      assert.is_true(math.abs((ch * ch):mean():item() - 1) < 1e-3) -- biased variance 1 (eps 1e-5)
    end
  end)
end)

describe('AvgPool2d and AdaptiveAvgPool2d', function()
  it('match PyTorch with and without counting the padding', function()
    for _, inc in ipairs({ true, false }) do
      local x = fill({ 2, 2, 5, 6 }, 0.41, 0.3):requires_grad_()
      local pool = nn.AvgPool2d({ 3, 2 }, { stride = { 2, 1 }, padding = { 1, 1 }, count_include_pad = inc })
      check(inc and 'avg_inc' or 'avg_exc', pool(x), { x = x })
    end
    assert.has_error(function() nn.AvgPool2d(2, { pading = 1 }) end, "AvgPool2d: unknown option 'pading'")
  end)

  it('match PyTorch for overlapping adaptive windows and global pooling', function()
    local x = fill({ 2, 3, 5, 7 }, 0.23, 0.8):requires_grad_()
    check('adaptive', nn.AdaptiveAvgPool2d({ 3, 2 })(x), { x = x })
    local g = fill({ 2, 3, 5, 7 }, 0.19, 0.5):requires_grad_()
    check('adaptive1', nn.AdaptiveAvgPool2d(1)(g), { x = g })
    assert.has_error(function() nn.AdaptiveAvgPool2d(0) end,
      'AdaptiveAvgPool2d: output_size must be a positive integer or {h, w}, got 0')
  end)
end)

describe('Conv1d and Conv2d', function()
  it('Conv1d matches PyTorch', function()
    local c = nn.Conv1d(3, 4, 3, { stride = 2, padding = 1 })
    gb.no_grad(function()
      c.weight:copy_(fill({ 4, 3, 3 }, 0.91, 0.3))
      c.bias:copy_(fill({ 4 }, 1.3, 0.5))
    end)
    local x = fill({ 2, 3, 9 }, 0.37, 0.1):requires_grad_()
    check('conv1d', c(x), { x = x, w = c.weight, b = c.bias })
    assert.are.same({ 4, 3, 3 }, c.weight.shape)
    assert.has_error(function() c(gb.ones(2, 2, 9)) end, 'Conv1d: expected input (N, 3, L), got (2,2,9)')
    assert.has_error(function() nn.Conv1d(3, 4, 0) end, 'Conv1d: kernel_size must be a positive integer, got 0')
  end)

  it('Conv2d with padding wider than half the kernel and no bias matches PyTorch', function()
    local c = nn.Conv2d(2, 3, { 2, 3 }, { stride = { 1, 2 }, padding = { 2, 2 }, bias = false })
    gb.no_grad(function() c.weight:copy_(fill({ 3, 2, 2, 3 }, 0.77, 0.2)) end)
    local x = fill({ 2, 2, 4, 5 }, 0.43, 0.6):requires_grad_()
    check('conv2d', c(x), { x = x, w = c.weight })
  end)

  it('Conv2d gives the same numbers for a batch of 600 as image by image (tiles, threads)', function()
    gb.manual_seed(3)
    local c = nn.Conv2d(3, 8, 5, { padding = 2 })
    local x = gb.randn(600, 3, 12, 12)
    local y = c(x)
    for _, i in ipairs({ 1, 257, 600 }) do
      local yi = c(x:narrow(1, i, 1))
      assert.is_true((yi - y:narrow(1, i, 1)):abs():max():item() < 1e-5)
    end
  end)
end)

describe('SiLU, ELU and Softplus', function()
  it('match PyTorch forward and backward', function()
    for name, layer in pairs({ silu = nn.SiLU(), elu = nn.ELU(0.7), softplus = nn.Softplus(),
                               softplus_b = nn.Softplus { beta = 2, threshold = 5 } }) do
      local x = (fill({ 3, 7 }, 0.83, 0.2) * 4):requires_grad_()
      check(name, layer(x), { x = x })
    end
    assert.are.equal('ELU(alpha=0.7)', tostring(nn.ELU { alpha = 0.7 }))
    assert.has_error(function() nn.Softplus(0) end, 'Softplus: beta must not be 0')
    assert.has_error(function() nn.ELU { alpah = 1 } end, "ELU: unknown option 'alpah'")
    assert.has_error(function() nn.SiLU { inplace = true } end, "SiLU: unknown option 'inplace'")
  end)
end)

describe('Dropout2d', function()
  it('zeroes whole channels with probability p and scales the rest', function()
    gb.manual_seed(5)
    local d = nn.Dropout2d(0.25)
    local y = d(gb.ones(40, 50, 3, 3))
    local kept = 0
    local sums = y:sum(4):sum(3):reshape(2000):totable()
    for _, s in ipairs(sums) do
      assert.is_true(math.abs(s) < 1e-4 or math.abs(s - 9 / 0.75) < 1e-4, 'a channel is whole')
      if s > 0 then kept = kept + 1 end
    end
    assert.is_true(math.abs(kept / 2000 - 0.75) < 0.04, 'kept ' .. kept)
    d:eval()
    assert.are.equal(9 * 2000, d(gb.ones(40, 50, 3, 3)):sum():item())
    assert.has_error(function() nn.Dropout2d(1.5) end, 'Dropout2d: expected a probability p in [0, 1], got 1.5')
    assert.has_error(function() nn.Dropout2d(0.5)(gb.ones(2, 3)) end,
      'Dropout2d: expected an (N, C, H, W) or (C, H, W) input, got (2,3)')
  end)
end)

describe('ModuleList and ModuleDict', function()
  it('ModuleList registers, indexes, iterates, inserts and refuses non-modules', function()
    local l = nn.ModuleList({ nn.Linear(2, 3), nn.ReLU() })
    l:append(nn.Linear(3, 1))
    assert.are.equal(3, #l)
    assert.are.equal(4, #l:parameters())
    assert.are.equal('Linear(3 -> 1)', tostring(l[-1]))
    local names = {}
    for k in pairs(l:state_dict()) do names[#names + 1] = k end
    table.sort(names)
    assert.are.same({ '1.bias', '1.weight', '3.bias', '3.weight' }, names)
    local n = 0
    for i, m in ipairs(l) do n = n + 1; assert.are.equal(l[i], m) end
    assert.are.equal(3, n)
    l:insert(1, nn.Tanh())
    assert.are.equal('Tanh()', tostring(l[1]))
    assert.are.equal('Linear(2 -> 3)', tostring(l[2]))
    l[2] = nn.Sigmoid()
    assert.are.equal(4, #l)
    assert.are.equal('Sigmoid()', tostring(l[2]))
    assert.is_nil(l[9])
    assert.has_error(function() l:append(5) end, 'ModuleList:append: expected a Module, got number')
    assert.has_error(function() l[7] = nn.ReLU() end, 'ModuleList: index 7 out of range for a list of 4 (use append)')
    assert.has_error(function() l(gb.ones(2)) end, 'ModuleList: is not callable (it has no forward); call its modules')
    local holder = nn.Module:extend('Holder')
    function holder:init() self.blocks = nn.ModuleList({ nn.Linear(2, 2) }) end
    assert.are.equal(2, #holder():parameters())
  end)

  it('ModuleDict registers by key, keeps insertion order and refuses bad keys', function()
    local d = nn.ModuleDict({ b = nn.Linear(2, 2), a = nn.Tanh() })
    assert.are.same({ 'a', 'b' }, d:keys())
    d.c = nn.Linear(2, 1)
    assert.are.same({ 'a', 'b', 'c' }, d:keys())
    assert.are.equal(3, #d)
    assert.are.equal(4, #d:parameters())
    assert.is_true(d:contains('c'))
    assert.are.equal('Linear(2 -> 1)', tostring(d:pop('c')))
    assert.is_false(d:contains('c'))
    local p = nn.ModuleDict({ { 'z', nn.ReLU() }, { 'y', nn.Tanh() } })
    assert.are.same({ 'z', 'y' }, p:keys())
    assert.are.equal('y', p:items()[2][1])
    assert.has_error(function() nn.ModuleDict({ forward = nn.ReLU() }) end, "ModuleDict: key 'forward' would hide a method")
    assert.has_error(function() nn.ModuleDict({ ['a.b'] = nn.ReLU() }) end,
      "ModuleDict: keys must be non-empty strings without '.', got 'a.b'")
    assert.has_error(function() nn.ModuleDict({ a = 3 }) end, "ModuleDict: value for 'a' is not a Module (got number)")
    assert.has_error(function() d:pop('q') end, "ModuleDict:pop: no module named 'q'")
    d:eval()
    assert.is_false(d.b.training)
  end)
end)
