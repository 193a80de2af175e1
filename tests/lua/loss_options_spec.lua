-- loss_options_spec.lua — CrossEntropyLoss / NLLLoss options a PyTorch user passes (weight,
-- ignore_index, label_smoothing, their combinations, every reduction) against PyTorch's
-- numbers (tests/fixtures/cross_entropy/make_ce.py), gradients also by finite differences,
-- and integer-only labels.
-- Run: build/gpubp /usr/bin/busted tests/lua/loss_options_spec.lua

local gb = require('gpubp')
local nn = gb.nn
local expected = dofile('tests/fixtures/cross_entropy/expected.lua')

local function assert_close(actual, want, tol, what)
  assert.are.equal(#want, #actual, what .. ': element count')
  for i = 1, #want do
    local a, e = actual[i], want[i]
    if e ~= e then
      assert.is_true(a ~= a, what .. ' [' .. i .. ']: expected nan, got ' .. tostring(a))
    else
      assert(math.abs(a - e) <= tol * (1 + math.abs(e)),
        string.format('%s [%d]: got %.9g, PyTorch %.9g', what, i, a, e))
    end
  end
end

local function make(case)
  local opts = {}
  for k, v in pairs(case.opts) do opts[k] = (k == 'weight') and gb.tensor(v) or v end
  return nn[case.loss](opts)
end

local function flat(t)
  local v = t:reshape(-1):totable()
  return type(v) == 'table' and v or { v }
end

describe('CrossEntropyLoss and NLLLoss options match PyTorch', function()
  local names = {}
  for name in pairs(expected) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local case = expected[name]
    it(name .. ': value and gradient', function()
      local x = gb.tensor(case.input):reshape(case.shape):requires_grad_(true)
      local y = gb.tensor(case.labels, { dtype = 'int64' })
      local out = make(case)(x, y)
      assert_close(flat(out), case.out, 2e-6, name .. ' loss')
      out:sum():backward()
      assert_close(flat(x.grad), case.grad, 2e-6, name .. ' grad')
    end)
  end

  it("label_smoothing=0.5 on logits {10, 0, 0}, label 1 gives PyTorch's 3.3334", function()
    local loss = nn.CrossEntropyLoss({ label_smoothing = 0.5 })(gb.tensor({ { 10, 0, 0 } }),
      gb.tensor({ 1 }, { dtype = 'int64' }))
    assert.is_true(math.abs(loss:item() - 3.3334238529205322) < 1e-6)
  end)

  it('weight + ignore_index + label_smoothing: gradient equals finite differences', function()
    local case = expected.all_three
    local x = gb.tensor(case.input):reshape(case.shape):requires_grad_(true)
    local y = gb.tensor(case.labels, { dtype = 'int64' })
    local loss = make(case)
    local ok, msg = gb.autograd.gradcheck(function(t) return loss(t, y) end, { x },
      { eps = 1e-2, atol = 2e-3, rtol = 1e-2 })
    assert.is_true(ok, msg)
    local nll = make(expected.nll_weight_ignore)
    ok, msg = gb.autograd.gradcheck(function(t) return nll(t:log_softmax(2), y) end, { x },
      { eps = 1e-2, atol = 2e-3, rtol = 1e-2 })
    assert.is_true(ok, msg)
  end)

  it('every row ignored gives NaN under mean, 0 under sum (as PyTorch)', function()
    local x = gb.zeros(2, 3)
    local y = gb.tensor({ 2, 2 }, { dtype = 'int64' })
    local m = nn.CrossEntropyLoss({ ignore_index = 2 })(x, y):item()
    assert.is_true(m ~= m)
    assert.are.equal(0, nn.CrossEntropyLoss({ ignore_index = 2, reduction = 'sum' })(x, y):item())
  end)
end)

describe('classification losses take integer labels only', function()
  it('a float label tensor is an error naming the loss and the dtype', function()
    assert.has_error(function() nn.CrossEntropyLoss()(gb.zeros(1, 3), gb.tensor({ 1.9 })) end,
      'CrossEntropyLoss: expected scalar type Long (int64 class labels 1..C) but found float32 labels')
    assert.has_error(function() nn.NLLLoss()(gb.zeros(1, 3), gb.tensor({ 1 })) end,
      'NLLLoss: expected scalar type Long (int64 class labels 1..C) but found float32 labels')
  end)

  it('int32 labels work and equal int64 ones', function()
    local x = gb.tensor({ { 1, 2, 3 }, { 0.5, -1, 2 } })
    local a = nn.CrossEntropyLoss()(x, gb.tensor({ 3, 1 }, { dtype = 'int32' })):item()
    local b = nn.CrossEntropyLoss()(x, gb.tensor({ 3, 1 }, { dtype = 'int64' })):item()
    assert.are.equal(b, a)
  end)

  it('bad options and shapes', function()
    assert.has_error(function() nn.CrossEntropyLoss({ label_smoothing = 1.5 }) end,
      'CrossEntropyLoss: label_smoothing must be between 0.0 and 1.0, got 1.5')
    assert.has_error(function() nn.CrossEntropyLoss({ weight = { 1, 2 } }) end,
      "CrossEntropyLoss: option 'weight' expects a tensor, got table")
    assert.has_error(function() nn.CrossEntropyLoss({ ignore_index = 1.5 }) end,
      "CrossEntropyLoss: option 'ignore_index' expects an integer, got number")
    assert.has_error(function()
      nn.CrossEntropyLoss({ weight = gb.ones(2) })(gb.zeros(1, 3), gb.tensor({ 1 }, { dtype = 'int64' }))
    end, 'CrossEntropyLoss: expected weight of shape (3) (one per class), got (2)')
    assert.has_error(function()
      nn.CrossEntropyLoss()(gb.zeros(2, 3), gb.tensor({ 1 }, { dtype = 'int64' }))
    end, 'CrossEntropyLoss: expected labels of shape (2), got (1)')
  end)
end)
