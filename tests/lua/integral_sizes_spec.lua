-- integral_sizes_spec.lua — sizes, counts, dims and indices given as integral floats (what
-- Lua 5.4 arithmetic such as n / 2 gives) are taken as the integers they equal, on the Lua
-- side as on the C side (gb.zeros(4.0)): each constructor or function below gives the same
-- result for 4.0 as for 4, with the value stored as an integer, and 2.5, NaN and inf keep
-- today's exact errors. One rule, options.tointeger (lua/gpubp/options.lua).
local gb = require 'gpubp'
local nn, optim, F = gb.nn, gb.optim, gb.nn.functional

-- a comparable plain value: tensors as shape, dtype and values; modules as their text and
-- parameters; numbers with their math.type, so a float left unconverted shows
local function digest(x)
  if gb.is_tensor(x) then return { shape = x.shape, dtype = x.dtype, values = x:totable() } end
  if type(x) == 'number' then return { x, math.type(x) } end
  if type(x) ~= 'table' then return x end
  local d = {}
  if nn.Module.is_module(x) then
    d.text = tostring(x)
    for i, p in ipairs(x:parameters()) do d[i] = digest(p) end
    return d
  end
  for k, v in pairs(x) do d[k] = digest(v) end
  return d
end

local function sgd() return optim.SGD({ gb.zeros(1):requires_grad_(true) }, { lr = 1 }) end

-- the learning rates of 6 steps of scheduler s (on optimizer o)
local function lrs(o, s)
  local out = {}
  for i = 1, 6 do
    o:step()
    s:step()
    out[i] = s:get_last_lr()[1]
  end
  return out
end

local x4 = gb.arange(1, 2 * 3 * 4 * 4 + 1):view(2, 3, 4, 4)

-- {name, run(v) -> result, the integer v stands for, the error for a bad v ('%s': tostring(v))}
local CASES = {
  -- the C side, for reference
  { 'gb.zeros', function(v) return gb.zeros(v, 2) end, 3, 'shape: size 1 is not an integer' },
  -- layers: positional sizes (options.positive_int)
  { 'Linear in_features', function(v) local m = nn.Linear(v, 2) return { m, m.in_features, m(gb.ones(3, 4)) } end, 4,
    'Linear: in_features must be a positive integer, got %s' },
  { 'Linear out_features', function(v) local m = nn.Linear(3, v) return { m, m.out_features } end, 2,
    'Linear: out_features must be a positive integer, got %s' },
  { 'Embedding', function(v) local m = nn.Embedding(v, 3) return { m, m.num_embeddings } end, 5,
    'Embedding: num_embeddings must be a positive integer, got %s' },
  { 'LSTMCell', function(v) local m = nn.LSTMCell(3, v) return { m, m.hidden_size } end, 4,
    'LSTMCell: hidden_size must be a positive integer, got %s' },
  { 'GRUCell', function(v) local m = nn.GRUCell(v, 2) return { m, m.input_size } end, 3,
    'GRUCell: input_size must be a positive integer, got %s' },
  { 'LSTM num_layers', function(v) local m = nn.LSTM(3, 2, { num_layers = v }) return { m, m.num_layers } end, 2,
    'LSTM: num_layers must be a positive integer, got %s' },
  { 'GRU hidden_size', function(v) local m = nn.GRU(3, v) return { m, m.hidden_size } end, 2,
    'GRU: hidden_size must be a positive integer, got %s' },
  { 'BatchNorm2d', function(v) local m = nn.BatchNorm2d(v) return { m, m.num_features, m(x4) } end, 3,
    'BatchNorm2d: num_features must be a positive integer, got %s' },
  { 'LayerNorm', function(v) local m = nn.LayerNorm({ 4, v }) return { m, m.normalized_shape, m(x4) } end, 4,
    'LayerNorm: normalized_shape[2] must be a positive integer, got %s' },
  { 'Conv2d in_channels', function(v) local m = nn.Conv2d(v, 2, 3) return { m, m.in_channels, m(x4) } end, 3,
    'Conv2d: in_channels must be a positive integer, got %s' },
  { 'MultiheadAttention', function(v)
      local m = nn.MultiheadAttention(8, v, { batch_first = true })
      local q = gb.randn(2, 3, 8)
      return { m, m.num_heads, m.head_dim, (m(q, q, q)) }
    end, 2, 'MultiheadAttention: num_heads must be a positive integer, got %s' },
  { 'MultiheadAttention.causal_mask', function(v) return nn.MultiheadAttention.causal_mask(3, v) end, 4,
    'causal_mask: S must be a positive integer, got %s' },
  -- window sizes (nn/window.lua) and 'integer' options (options.check)
  { 'Conv2d kernel_size', function(v) local m = nn.Conv2d(3, 2, v) return { m, m.kernel_size, m(x4) } end, 3,
    'Conv2d: kernel_size must be a positive integer or {h, w}, got %s' },
  { 'Conv2d padding', function(v) local m = nn.Conv2d(3, 2, 3, { padding = v }) return { m, m.padding, m(x4) } end, 2,
    "Conv2d: option 'padding' expects an integer or a table or a string, got number" },
  { 'Conv2d padding table', function(v) local m = nn.Conv2d(3, 2, 3, { padding = { 1, v } }) return { m, m.padding, m(x4) } end, 2,
    'Conv2d: padding must be a non-negative integer or {h, w}, got {1, %s}' },
  { 'Conv1d stride', function(v) local m = nn.Conv1d(3, 2, 2, { stride = v }) return { m, m.stride, m(x4:view(2, 3, 16)) } end, 2,
    "Conv1d: option 'stride' expects an integer or a table, got number" },
  { 'Conv2d groups', function(v) local m = nn.Conv2d(4, 2, 1, { groups = v }) return { m, m.groups } end, 2,
    "Conv2d: option 'groups' expects an integer, got number" },
  { 'MaxPool2d', function(v) local m = nn.MaxPool2d(v, { dilation = 1.0 }) return { m, m.kernel_size, m.dilation, m(x4) } end, 2,
    'MaxPool2d: kernel_size must be a positive integer or {h, w}, got %s' },
  { 'AvgPool2d divisor_override', function(v)
      local m = nn.AvgPool2d(2, { divisor_override = v, padding = 1.0 }) return { m, m.divisor_override, m.padding, m(x4) }
    end, 3, "AvgPool2d: option 'divisor_override' expects an integer, got number" },
  { 'F.conv2d dilation', function(v) return F.conv2d(x4, gb.ones(2, 3, 2, 2), nil, { dilation = v }) end, 2,
    "conv2d: option 'dilation' expects an integer or a table, got number" },
  { 'F.max_pool1d', function(v) return F.max_pool1d(x4[1], v) end, 2,
    'MaxPool1d: kernel_size must be a positive integer, got %s' },
  { 'AdaptiveAvgPool2d', function(v) local m = nn.AdaptiveAvgPool2d({ v, 1 }) return { m, m.oh, m(x4) } end, 2,
    'AdaptiveAvgPool2d: output_size must be a positive integer or {h, w}, got {%s, 1}' },
  -- dims and indices of layers
  { 'Softmax', function(v) local m = nn.Softmax(v) return { m, m.dim, m(x4) } end, 2,
    'Softmax: expected an integer dim, got %s' },
  { 'LogSoftmax', function(v) local m = nn.LogSoftmax({ dim = v }) return { m, m.dim } end, -1,
    "LogSoftmax: option 'dim' expects an integer, got number" },
  { 'Flatten', function(v) local m = nn.Flatten(v) return { m, m.start_dim, m(x4) } end, 3,
    'Flatten: start_dim must be an integer, got %s' },
  { 'Sequential[i]', function(v) local s = nn.Sequential(nn.ReLU(), nn.Tanh()) return tostring(s[v]) end, 2, nil },
  { 'ModuleList:insert', function(v)
      local l = nn.ModuleList({ nn.ReLU(), nn.Tanh() }):insert(v, nn.Sigmoid()) return { tostring(l[v]), #l }
    end, 2, 'ModuleList:insert: index must be an integer, got %s' },
  -- optimizers' schedulers and tools
  { 'StepLR', function(v) local o = sgd() local s = optim.StepLR(o, v, 0.5) return { lrs(o, s), s.step_size } end, 2,
    'StepLR: expected a positive integer step_size, got %s' },
  { 'MultiStepLR', function(v) local o = sgd() local s = optim.MultiStepLR(o, { 1, v }) return { lrs(o, s), s.milestones } end, 3,
    'MultiStepLR: milestone 2 is %s, not an integer' },
  { 'LinearLR', function(v) local o = sgd() local s = optim.LinearLR(o, { total_iters = v }) return { lrs(o, s), s.total_iters } end, 4,
    'LinearLR: total_iters must be a positive integer, got %s' },
  { 'OneCycleLR', function(v)
      local o = sgd() local s = optim.OneCycleLR(o, { max_lr = 1, epochs = v, steps_per_epoch = 3 }) return { lrs(o, s), s.total_steps }
    end, 2, 'OneCycleLR: expected a positive integer epochs, got %s' },
  { 'SequentialLR', function(v)
      local o = sgd()
      local s = optim.SequentialLR(o, { optim.LinearLR(o, 0.5, 1, 2), optim.ExponentialLR(o, 0.9) }, { v })
      return { lrs(o, s), s.milestones }
    end, 2, 'SequentialLR: milestones must be increasing integers' },
  { 'GradMonitor every', function(v) local m = nn.utils.GradMonitor(nn.Linear(2, 1), { every = v, warn = false }) return m.opts.every end, 3,
    'GradMonitor: every must be a positive integer, got %s' },
  { 'summary', function(v) return nn.utils.summary(nn.Linear(4, 2), { v, 4 }, { quiet = true }).text end, 3,
    'summary: expected an input shape (a table of sizes), a tensor or a list of shapes' },
  -- tensor methods written in Lua
  { 'norm dim', function(v) return x4:norm(2, v) end, 2, 'norm: dim must be an integer, got %s' },
  { 'slice', function(v) return x4:slice(v, 1, -1, 1.0) end, 2, 'slice: dimension %s out of range for a 4-D tensor' },
  { 'slice start', function(v) return x4:slice(3, v, 4) end, 2, 'slice: start must be an integer, got %s' },
  { 'slice step', function(v) return x4:slice(4, 1, 4, v) end, 2, 'slice: step must be a positive integer, got %s' },
  { 'split size', function(v) return x4:split(v, 3.0) end, 3, 'split: expected a size or a table of sizes, got number' },
  { 'split sizes', function(v) return gb.split(x4, { 1.0, v }, 4) end, 3, 'split: size 2 must be a non-negative integer, got %s' },
  { 'chunk', function(v) return x4:chunk(v, -1.0) end, 2, 'chunk: the number of chunks must be a positive integer, got %s' },
  { 'chunk of an empty dim', function(v) return gb.zeros(0, 2):chunk(v) end, 3, 'chunk: the number of chunks must be a positive integer, got %s' },
  { 'one_hot', function(v) return gb.one_hot(gb.tensor({ 1, 3 }, { dtype = 'int64' }), v) end, 4,
    'one_hot: num_classes must be a positive integer, got %s' },
  -- data
  { 'DataLoader batch_size', function(v)
      local dl = gb.data.DataLoader({ x = gb.arange(10):view(5, 2), y = gb.arange(5) }, { batch_size = v })
      local sizes = {}
      for x in dl:iter() do sizes[#sizes + 1] = x:size(1) end
      return { dl.batch_size, sizes, #dl }
    end, 2, 'DataLoader: batch_size must be a positive integer, got %s' },
  { 'DataLoader:set_epoch', function(v)
      local dl = gb.data.DataLoader({ x = gb.arange(4) }, { distributed = true, rank = 1.0, world_size = 2.0, seed = 3.0 })
      dl:set_epoch(v)
      return { dl.epoch, dl.seed, dl.rank, dl.world_size }
    end, 2, 'DataLoader:set_epoch: expected an integer epoch, got %s' },
}

local BAD = { 2.5, 0 / 0, math.huge }

describe('integral floats as sizes', function()
  for _, c in ipairs(CASES) do
    local name, run, int, err = table.unpack(c)
    it(name .. ': ' .. int .. '.0 works as ' .. int .. ' does', function()
      assert.are.equal('integer', math.type(int))
      gb.manual_seed(7)
      local want = digest(run(int))
      gb.manual_seed(7)
      local got = digest(run(int + 0.0))
      assert.are.same(want, got)
    end)
    if err then
      it(name .. ': 2.5, NaN and inf keep their errors', function()
        for _, v in ipairs(BAD) do
          assert.has_error(function() run(v) end, err:format(tostring(v)))
        end
      end)
    end
  end

  it('options.tointeger is the one rule: integral numbers only, not strings', function()
    local options = require('gpubp.options')
    assert.are.equal(4, options.tointeger(4.0))
    assert.are.equal('integer', math.type(options.tointeger(4.0)))
    assert.are.equal(-3, options.tointeger(-3))
    assert.are.equal(2 ^ 53 // 1, options.tointeger(2 ^ 53))
    for _, v in ipairs({ 2.5, 0 / 0, math.huge, -math.huge, 2 ^ 63, '4', nil, {}, true }) do
      assert.is_nil(options.tointeger(v))
    end
    assert.are.equal(2, options.integer_at_least(2.0, 2))
    assert.is_nil(options.integer_at_least(1.0, 2))
    -- a spec entry typed 'integer' gives the converted value; a plain number default keeps v
    local o = options.check('Foo', { k = 3.0, n = 3.0 }, { k = options.opt(1, 'integer', 'table'), n = 1 })
    assert.are.equal('integer', math.type(o.k))
    assert.are.equal('float', math.type(o.n))
  end)

  it('a chunk list of an empty dim is capped, so a huge count fails at once', function()
    assert.are.equal(4, #gb.zeros(0):chunk(4))
    assert.has_error(function() gb.zeros(0):chunk(2 ^ 44) end,
      'chunk: 17592186044416 chunks of an empty dimension are too many (at most 2^20)')
  end)

  it('split reads its sizes once, over 1..#sizes (a table answering every index ends)', function()
    local forever = setmetatable({}, { __index = function() return 2 ^ 62 end })
    assert.has_error(function() gb.arange(4):split(forever) end,
      'split: sizes add up to 0 but dimension 1 has size 4')
    assert.has_error(function() gb.arange(4):split({ 5, 'x' }) end,
      'split: size 2 must be a non-negative integer, got x')
  end)
end)
