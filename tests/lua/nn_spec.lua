-- nn_spec.lua — gb.nn: Module registration and bookkeeping, layers' shapes, init and
-- numbers (checked against values computed by hand), losses, clip_grad_norm, gradcheck.
-- Run: build/gpubp /usr/bin/busted tests/lua/nn_spec.lua

local gb = require('gpubp')
local nn = gb.nn

local function flat(v, out)
  out = out or {}
  if type(v) == 'table' then for _, e in ipairs(v) do flat(e, out) end
  else out[#out + 1] = v end
  return out
end

local function values(t) return flat(gb.is_tensor(t) and t:totable() or t) end

local function assert_close(actual, expected, tol)
  tol = tol or 1e-5
  local a, e = values(actual), values(expected)
  assert.are.equal(#e, #a, 'element count')
  for i = 1, #e do
    if math.abs(a[i] - e[i]) > tol * math.max(1, math.abs(e[i])) then
      error(string.format('element %d: got %.9g, expected %.9g', i, a[i], e[i]), 2)
    end
  end
end

local function names_of(list)
  local out = {}
  for i, np in ipairs(list) do out[i] = np[1] end
  return out
end

local Net = nn.Module:extend('Net')
function Net:init(hidden)
  self.fc1 = nn.Linear(4, hidden)
  self.act = nn.ReLU()
  self.fc2 = nn.Linear(hidden, 3)
  self.note = 'plain field'
end
function Net:forward(x) return self.fc2(self.act(self.fc1(x))) end

describe('nn.Module', function()
  it('registers submodules and parameters assigned to self, in order', function()
    local net = Net(5)
    assert.are.same({ 'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias' },
      names_of(net:named_parameters()))
    assert.are.equal(4, #net:parameters())
    assert.are.equal(3, #net:children())
    assert.are.equal('plain field', net.note)
    for _, p in ipairs(net:parameters()) do assert.is_true(p.requires_grad) end
    assert.are.equal(4 * 5 + 5 + 5 * 3 + 3, net:num_parameters())
  end)

  it('registers nn.Parameter tensors and forgets fields set to nil', function()
    local m = nn.Module()
    m.scale = nn.Parameter(gb.ones(2))
    m.cache = gb.zeros(2)              -- a plain tensor is not a parameter
    m.inner = nn.Linear(2, 2)
    assert.are.same({ 'scale', 'inner.weight', 'inner.bias' }, names_of(m:named_parameters()))
    m.inner = nil
    assert.are.same({ 'scale' }, names_of(m:named_parameters()))
    assert.is_nil(m.inner)
  end)

  it('shares a parameter used twice only once', function()
    local a = nn.Linear(3, 3)
    local m = nn.Module()
    m.a = a
    m.b = nn.Module()
    m.b.w = a.weight
    assert.are.equal(2, #m:parameters())
  end)

  it('prints a tree like PyTorch', function()
    local net = Net(5)
    assert.are.equal('Net(\n  (fc1): Linear(4 -> 5)\n  (act): ReLU()\n  (fc2): Linear(5 -> 3)\n)',
      tostring(net))
    assert.are.equal('Linear(784 -> 128)', tostring(nn.Linear(784, 128)))
    assert.are.equal('Linear(2 -> 3, bias=false)', tostring(nn.Linear(2, 3, { bias = false })))
    local seq = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Tanh(), nn.Dropout(0.25)))
    assert.are.equal('Sequential(\n  (1): Linear(2 -> 2)\n  (2): Sequential(\n'
      .. '    (1): Tanh()\n    (2): Dropout(p=0.25)\n  )\n)', tostring(seq))
  end)

  it('train()/eval() set training on the whole tree', function()
    local net = Net(5)
    assert.is_true(net.fc1.training)
    net:eval()
    assert.is_false(net.training)
    assert.is_false(net.fc2.training)
    net:train()
    assert.is_true(net.act.training)
  end)

  it('zero_grad drops gradients', function()
    local net = Net(5)
    net(gb.randn(2, 4)):sum():backward()
    assert.is_not_nil(net.fc1.weight.grad)
    net:zero_grad()
    assert.is_nil(net.fc1.weight.grad)
  end)

  it('round-trips state_dict into a fresh model', function()
    gb.manual_seed(1)
    local a, b = Net(5), Net(5)
    local x = gb.randn(3, 4)
    local sd = a:state_dict()
    assert.are.same({ 3, 5 }, sd['fc2.weight'].shape)
    b:load_state_dict(sd)
    assert_close(b(x), a(x), 0)
  end)

  it('load_state_dict names missing keys, unexpected keys and shape mismatches', function()
    local net = Net(5)
    local sd = net:state_dict()
    sd['fc2.bias'] = nil
    sd['fc3.weight'] = gb.zeros(1)
    local ok, err = pcall(net.load_state_dict, net, sd)
    assert.is_false(ok)
    assert.matches('missing keys: fc2.bias', err, 1, true)
    assert.matches('unexpected keys: fc3.weight', err, 1, true)
    sd = net:state_dict()
    sd['fc1.weight'] = gb.zeros(2, 2)
    ok, err = pcall(net.load_state_dict, net, sd)
    assert.is_false(ok)
    assert.matches('fc1.weight: checkpoint has shape (2,2), model has (5,4)', err, 1, true)
    -- non-strict loading reports instead of raising
    sd = net:state_dict()
    sd['fc2.bias'] = nil
    local report = net:load_state_dict(sd, false)
    assert.are.same({ 'fc2.bias' }, report.missing)
  end)

  it('includes buffers in state_dict', function()
    local bn = nn.BatchNorm1d(3)
    local sd = bn:state_dict()
    assert.is_not_nil(sd.running_mean)
    assert.is_not_nil(sd.running_var)
    assert.are.equal(2, #bn:parameters())
  end)

  it('to(device) keeps parameters registered', function()
    local net = Net(3):to('cpu')
    assert.are.equal(4, #net:parameters())
    assert.are.equal('cpu', net.fc1.weight.device)
  end)
end)

describe('nn.Linear', function()
  it('has PyTorch shapes and forward maths', function()
    local l = nn.Linear(3, 2)
    assert.are.same({ 2, 3 }, l.weight.shape)
    assert.are.same({ 2 }, l.bias.shape)
    l:load_state_dict({ weight = gb.tensor({ { 1, 2, 3 }, { -1, 0, 1 } }),
                        bias = gb.tensor({ 0.5, -0.5 }) })
    assert_close(l(gb.tensor({ { 1, 1, 1 }, { 2, 0, -1 } })), { { 6.5, -0.5 }, { -0.5, -3.5 } })
    assert.are.same({ 2, 4, 2 }, l(gb.zeros(2, 4, 3)).shape)
  end)

  it('initializes weight and bias in U(-1/sqrt(in), 1/sqrt(in))', function()
    gb.manual_seed(3)
    local l = nn.Linear(400, 300)
    local bound = 1 / math.sqrt(400)
    local w = values(l.weight)
    local lo, hi, sum = math.huge, -math.huge, 0
    for _, v in ipairs(w) do lo, hi, sum = math.min(lo, v), math.max(hi, v), sum + v end
    assert.is_true(lo >= -bound and hi <= bound)
    assert.is_true(lo < -0.99 * bound and hi > 0.99 * bound)
    assert.is_true(math.abs(sum / #w) < 0.01 * bound)
    for _, v in ipairs(values(l.bias)) do assert.is_true(math.abs(v) <= bound) end
  end)

  it('rejects bad sizes with a message naming the layer', function()
    assert.has_error(function() nn.Linear(0, 3) end,
      'Linear: in_features must be a positive integer, got 0')
  end)
end)

describe('nn activations', function()
  local x = gb.tensor({ { -2, -0.5, 0, 1, 3 } })
  local e = math.exp
  it('compute the right values', function()
    assert_close(nn.ReLU()(x), { { 0, 0, 0, 1, 3 } })
    assert_close(nn.LeakyReLU()(x), { { -0.02, -0.005, 0, 1, 3 } })
    assert_close(nn.LeakyReLU(0.2)(x), { { -0.4, -0.1, 0, 1, 3 } })
    assert_close(nn.Sigmoid()(x), { { 1 / (1 + e(2)), 1 / (1 + e(0.5)), 0.5, 1 / (1 + e(-1)),
                                      1 / (1 + e(-3)) } })
    assert_close(nn.Tanh()(x), { { math.tanh(-2), math.tanh(-0.5), 0, math.tanh(1),
                                   math.tanh(3) } })
    -- exact GELU: x * Phi(x); Phi(1) = 0.841344746, Phi(-0.5) = 0.308537539
    assert_close(nn.GELU()(gb.tensor({ 1, -0.5, 0 })), { 0.841344746, -0.5 * 0.308537539, 0 })
    local z = 1 + e(1) + e(2)
    assert_close(nn.Softmax(2)(gb.tensor({ { 0, 1, 2 } })), { { 1 / z, e(1) / z, e(2) / z } })
    assert_close(nn.LogSoftmax()(gb.tensor({ { 0, 1, 2 } })),
      { { -math.log(z), 1 - math.log(z), 2 - math.log(z) } })
    assert.are.equal('LeakyReLU(negative_slope=0.01)', tostring(nn.LeakyReLU()))
  end)

  it('Flatten keeps the batch dimension', function()
    assert.are.same({ 2, 12 }, nn.Flatten()(gb.zeros(2, 3, 4)).shape)
    assert.are.same({ 2, 12 }, nn.Flatten(2, 3)(gb.zeros(2, 3, 4)).shape)
    assert.are.same({ 2, 3, 4 }, nn.Flatten(3, 3)(gb.zeros(2, 3, 4)).shape)
    assert.are.same({ 6, 4 }, nn.Flatten(1, 2)(gb.zeros(2, 3, 4)).shape)
  end)

  it('Sequential chains, indexes and counts its children', function()
    local seq = nn.Sequential({ nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2) })
    assert.are.equal(3, #seq)
    assert.are.equal('ReLU()', tostring(seq[2]))
    assert.are.equal('Linear(3 -> 2)', tostring(seq[-1]))
    assert.are.same({ 5, 2 }, seq(gb.randn(5, 4)).shape)
    assert.are.same({ '1.weight', '1.bias', '3.weight', '3.bias' },
      names_of(seq:named_parameters()))
  end)
end)

describe('nn.Embedding', function()
  it('looks up rows and accumulates gradients into the used rows', function()
    local e = nn.Embedding(5, 3)
    assert.are.same({ 5, 3 }, e.weight.shape)
    local idx = gb.tensor({ { 1, 5 }, { 2, 1 } }, { dtype = 'int64' })
    local y = e(idx)
    assert.are.same({ 2, 2, 3 }, y.shape)
    assert_close(y[1][2], e.weight[5], 0)
    y:sum():backward()
    assert_close(e.weight.grad:select(2, 1), { 2, 1, 0, 0, 1 })
    assert.are.equal('Embedding(5, 3)', tostring(e))
  end)
end)

describe('nn.Dropout', function()
  it('zeroes about p of the inputs and scales the rest in training, identity in eval', function()
    gb.manual_seed(7)
    local d = nn.Dropout(0.5)
    local y = values(d(gb.ones(100, 100)))
    local zeros = 0
    for _, v in ipairs(y) do
      if v == 0 then zeros = zeros + 1 else assert.are.equal(2, v) end
    end
    assert.is_true(zeros > 4700 and zeros < 5300, 'zeros: ' .. zeros)
    d:eval()
    assert_close(d(gb.full({ 3 }, 1.5)), { 1.5, 1.5, 1.5 }, 0)
    assert.are.equal('Dropout(p=0.5)', tostring(d))
  end)
end)

describe('nn.BatchNorm1d', function()
  local x = gb.tensor({ { 1, 2 }, { 3, 6 }, { 5, 10 } })
  -- per column: mean {3, 6}, biased var {8/3, 32/3}, unbiased var {4, 16}
  it('normalizes with batch statistics and updates running stats in training', function()
    local bn = nn.BatchNorm1d(2)
    local y = bn(x)
    local s1, s2 = math.sqrt(8 / 3 + 1e-5), math.sqrt(32 / 3 + 1e-5)
    assert_close(y, { { -2 / s1, -4 / s2 }, { 0, 0 }, { 2 / s1, 4 / s2 } })
    assert_close(bn.running_mean, { 0.3, 0.6 })
    assert_close(bn.running_var, { 0.9 + 0.4, 0.9 + 1.6 })
  end)

  it('uses the running statistics in eval mode', function()
    local bn = nn.BatchNorm1d(2)
    bn(x)
    bn:eval()
    local y = bn(gb.tensor({ { 1.3, 0.6 } }))
    assert_close(y, { { 1 / math.sqrt(1.3 + 1e-5), 0 } })
  end)

  it('applies its affine parameters and passes gradients to them', function()
    local bn = nn.BatchNorm1d(2)
    gb.no_grad(function()
      bn.weight:fill_(2)
      bn.bias:fill_(1)
    end)
    local y = bn(x)
    local s1 = math.sqrt(8 / 3 + 1e-5)
    assert_close(y:select(2, 1), { 1 - 4 / s1, 1, 1 + 4 / s1 })
    y:sum():backward()
    assert_close(bn.bias.grad, { 3, 3 })
    assert_close(bn.weight.grad, { 0, 0 }, 1e-4)
  end)

  it('rejects a wrong feature count', function()
    assert.has_error(function() nn.BatchNorm1d(3)(x) end,
      'BatchNorm1d: expected input of shape (N, 3) or (N, 3, L), got (3,2)')
  end)
end)

describe('nn.LayerNorm', function()
  it('normalizes each row with its own mean and biased variance', function()
    local ln = nn.LayerNorm(4)
    local y = ln(gb.tensor({ { 1, 2, 3, 4 }, { 2, 2, 2, 2 } }))
    local s = math.sqrt(1.25 + 1e-5)
    assert_close(y, { { -1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s }, { 0, 0, 0, 0 } })
    assert.are.same({ 4 }, ln.weight.shape)
  end)

  it('normalizes over several trailing dims', function()
    local ln = nn.LayerNorm({ 2, 2 })
    local y = ln(gb.tensor({ { { 1, 2 }, { 3, 4 } } }))
    local s = math.sqrt(1.25 + 1e-5)
    assert_close(y, { { { -1.5 / s, -0.5 / s }, { 0.5 / s, 1.5 / s } } })
  end)
end)

describe('nn losses', function()
  it('CrossEntropyLoss matches -log softmax at the label (labels 1..C)', function()
    local logits = gb.tensor({ { 1, 2, 3 }, { 0, 0, 0 } })
    local labels = gb.tensor({ 3, 1 }, { dtype = 'int64' })
    local e = math.exp
    local l1 = -math.log(e(3) / (e(1) + e(2) + e(3)))
    local l2 = math.log(3)
    assert_close(nn.CrossEntropyLoss()(logits, labels), { (l1 + l2) / 2 })
    assert_close(nn.CrossEntropyLoss({ reduction = 'sum' })(logits, labels), { l1 + l2 })
  end)

  it('NLLLoss averages -logp at the labels', function()
    local logp = gb.tensor({ { -1, -2 }, { -0.5, -3 } })
    local labels = gb.tensor({ 2, 1 }, { dtype = 'int64' })
    assert_close(nn.NLLLoss()(logp, labels), { 1.25 })
  end)

  it('MSELoss', function()
    assert_close(nn.MSELoss()(gb.tensor({ 1, 2, 3 }), gb.tensor({ 1, 1, 1 })), { 5 / 3 })
    assert_close(nn.MSELoss({ reduction = 'sum' })(gb.tensor({ 1, 2, 3 }), gb.ones(3)), { 5 })
  end)

  it('BCEWithLogitsLoss is stable and correct', function()
    local x = gb.tensor({ 0, 2, -3, 100, -100 })
    local y = gb.tensor({ 1, 0, 1, 1, 0 })
    local l = { math.log(2), 2 + math.log(1 + math.exp(-2)), 3 + math.log(1 + math.exp(-3)), 0, 0 }
    assert_close(nn.BCEWithLogitsLoss({ reduction = 'none' })(x, y), l)
    assert_close(nn.BCEWithLogitsLoss()(x, y), { (l[1] + l[2] + l[3]) / 5 })
  end)

  it('rejects an unknown reduction', function()
    assert.has_error(function() nn.MSELoss({ reduction = 'avg' }) end,
      "MSELoss: reduction must be 'mean', 'sum' or 'none', got 'avg'")
  end)
end)

describe('nn.utils.clip_grad_norm', function()
  it('returns the total norm and rescales gradients above max_norm', function()
    local a = gb.zeros(1):requires_grad_(true)
    local b = gb.zeros(1):requires_grad_(true)
    local loss = (a * 3 + b * 4):sum()
    loss:backward()
    local total = nn.utils.clip_grad_norm({ a, b }, 1)
    assert.is_true(math.abs(total - 5) < 1e-5)
    assert_close(a.grad, { 0.6 }, 1e-4)
    assert_close(b.grad, { 0.8 }, 1e-4)
    total = nn.utils.clip_grad_norm({ a, b }, 10)
    assert.is_true(math.abs(total - 1) < 1e-4)
    assert_close(a.grad, { 0.6 }, 1e-4)
  end)
end)

describe('nn.init', function()
  it('fills with constants and bounded random values', function()
    local t = gb.empty(30, 20)
    nn.init.constant_(t, 0.5)
    assert_close(t:mean(), { 0.5 })
    nn.init.zeros_(t)
    assert_close(t:abs():max(), { 0 })
    nn.init.ones_(t)
    assert_close(t:min(), { 1 })
    nn.init.xavier_uniform_(t)
    local a = math.sqrt(6 / 50)
    assert.is_true(t:abs():max():item() <= a)
    nn.init.kaiming_uniform_(t, 0, 'fan_in', 'relu')
    assert.is_true(t:abs():max():item() <= math.sqrt(6 / 20))
    assert.is_true(t:abs():max():item() > 0.9 * math.sqrt(6 / 20))
    gb.manual_seed(5)
    local big = gb.empty(200, 100)
    nn.init.kaiming_normal_(big, { nonlinearity = 'relu' })
    assert.is_true(math.abs(big:std():item() - math.sqrt(2 / 100)) < 0.01)
    nn.init.xavier_normal_(big)
    assert.is_true(math.abs(big:std():item() - math.sqrt(2 / 300)) < 0.01)
    assert.are.equal(5 / 3, nn.init.calculate_gain('tanh'))
  end)
end)

describe('gb.autograd.gradcheck', function()
  local gradcheck = require('gpubp.autograd_check').gradcheck
  it('accepts a correct gradient', function()
    gb.manual_seed(2)
    local l = nn.Linear(3, 2)
    local x = gb.randn(4, 3):requires_grad_(true)
    assert.is_true(gradcheck(function(v) return l(v):tanh() end, { x }))
    assert.is_true(gradcheck(function(w, v) return v:matmul(w:t()) end,
      { l.weight, x }))
  end)

  it('agrees with the tape through the composite layers and losses', function()
    gb.manual_seed(4)
    local x = gb.randn(5, 3):requires_grad_(true)
    local bn, ln = nn.BatchNorm1d(3), nn.LayerNorm(3)
    local t = gb.rand(5, 3)
    local labels = gb.tensor({ 1, 3, 2, 2, 1 }, { dtype = 'int64' })
    local cases = {
      BatchNorm1d = function(v) return bn(v) end,
      LayerNorm = function(v) return ln(v) end,
      BCEWithLogitsLoss = function(v) return nn.BCEWithLogitsLoss()(v, t) end,
      MSELoss = function(v) return nn.MSELoss()(v, t) end,
      CrossEntropyLoss = function(v) return nn.CrossEntropyLoss()(v, labels) end,
      ['CrossEntropyLoss none'] = function(v)
        return nn.CrossEntropyLoss({ reduction = 'none' })(v, labels)
      end,
      GELU = function(v) return nn.GELU()(v) end,
      LogSoftmax = function(v) return nn.LogSoftmax(2)(v) end,
    }
    for name, fn in pairs(cases) do
      local ok, msg = gradcheck(fn, { x }, { eps = 1e-2, atol = 2e-3, rtol = 2e-2 })
      assert.is_true(ok, name .. ': ' .. tostring(msg))
    end
  end)

  it('reports a wrong gradient with the input and element', function()
    local x = gb.tensor({ 1, 2, 3 }):requires_grad_(true)
    local ok, msg = gradcheck(function(v) return v * v:detach() end, { x })
    assert.is_false(ok)
    assert.matches('gradcheck: input 1, element 1: analytic ', msg, 1, true)
  end)
end)
