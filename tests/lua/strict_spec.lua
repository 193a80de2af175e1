-- strict_spec.lua — strict options (the shared checker gpubp.options) and errors raised at
-- the user's line (gpubp.errors), also through user subclasses of layers and optimizers.
-- Run: build/gpubp /usr/bin/busted tests/lua/strict_spec.lua

local gb = require('gpubp')
local options = require('gpubp.options')
local errors = require('gpubp.errors')
local nn, optim = gb.nn, gb.optim

-- The error of fn() as a string, with the position Lua prefixed to it.
local function err_of(fn, ...)
  local ok, e = pcall(fn, ...)
  assert(not ok, 'expected an error')
  return tostring(e)
end

-- Asserts that `msg` (with its position) names this spec file at `line`, then `text`.
local function assert_at(line, text, msg)
  local file, at = msg:match('^(.-):(%d+): ')
  assert.is_truthy(file, 'no position in: ' .. msg)
  assert.is_truthy(file:match('strict_spec%.lua$'), 'position names ' .. file .. ': ' .. msg)
  assert.are.equal(line, tonumber(at), msg)
  assert.are.equal(text, msg:sub(#file + #at + 4))
end

local function here() return debug.getinfo(2, 'l').currentline end

describe('options.check', function()
  local spec = { bias = true, lr = 0.1, name = 'x', device = options.optional,
                 stride = options.opt(1, 'integer', 'table') }

  it('fills defaults and keeps given values', function()
    local o = options.check('F', { lr = 2 }, spec)
    assert.are.same({ bias = true, lr = 2, name = 'x', stride = 1 }, o)
    assert.are.same({ bias = true, lr = 0.1, name = 'x', stride = 1 }, options.check('F', nil, spec))
    assert.are.same({ 2, 3 }, options.check('F', { stride = { 2, 3 } }, spec).stride)
    assert.are.equal('cpu', options.check('F', { device = 'cpu' }, spec).device)
  end)

  it('names the callee and the option, at the caller of the checker', function()
    local line = here(); local e = err_of(function() options.check('Foo', { bais = false }, spec) end)
    assert_at(line, "Foo: unknown option 'bais'", e)
    e = err_of(function() options.check('Foo', { bias = 1 }, spec) end)
    assert.matches("Foo: option 'bias' expects a boolean, got number$", e)
    e = err_of(function() options.check('Foo', { stride = 1.5 }, spec) end)
    assert.matches("Foo: option 'stride' expects an integer or a table, got number$", e)
    e = err_of(function() options.check('Foo', 5, spec) end)
    assert.matches('Foo: expected an options table, got number$', e)
    e = err_of(function() options.check('Foo', gb.zeros(1), spec) end)
    assert.matches('Foo: expected an options table, got tensor$', e)
  end)
end)

describe('errors.raise', function()
  it('skips every frame of lua/gpubp', function()
    assert.is_true(errors.is_library(debug.getinfo(errors.raise, 'S').source))
    assert.is_false(errors.is_library(debug.getinfo(1, 'S').source))
    local line = here(); local e = err_of(function() errors.raise('boom') end)
    assert_at(line, 'boom', e)
  end)
end)

describe('optimizers', function()
  local p = gb.zeros(2):requires_grad_(true)

  it('reject unknown options at the user line', function()
    local line = here(); local e = err_of(function() optim.SGD({ p }, { lr = 0.1, momentun = 0.9 }) end)
    assert_at(line, "SGD: unknown option 'momentun'", e)
    line = here(); e = err_of(function() optim.Adam({ p }, { lr = 'big' }) end)
    assert_at(line, "Adam: option 'lr' expects a number, got string", e)
    line = here(); e = err_of(function() optim.SGD({ p }, { lr = -1 }) end)
    assert_at(line, 'SGD: lr must be a number >= 0, got -1', e)
  end)

  it('subclassed, report the line of the user file', function()
    local MySGD = optim.SGD:extend('MySGD')
    local init_line
    function MySGD:init(params, opts)
      init_line = here(); optim.SGD.init(self, params, opts)
    end
    local e = err_of(function() MySGD({ p }, { lr = 0.1, nesterov = true }) end)
    assert_at(init_line, 'SGD: nesterov momentum requires a momentum > 0 and zero dampening', e)
    e = err_of(function() MySGD({ p }, { lr = 0.1, momentun = 1 }) end)
    assert_at(init_line, "MySGD: unknown option 'momentun'", e)
    -- a subclass that keeps the parent's init: the constructor call itself is named
    local Plain = optim.SGD:extend('Plain')
    local line = here(); e = err_of(function() Plain({ p }, { lr = 0.1, momentun = 1 }) end)
    assert_at(line, "Plain: unknown option 'momentun'", e)
  end)
end)

describe('layers, losses and the DataLoader', function()
  it('reject unknown options naming the class and the option, at the user line', function()
    local cases = {
      { function() nn.Linear(3, 2, { bais = false }) end, "Linear: unknown option 'bais'" },
      { function() nn.Conv2d(1, 2, 3, { padd = 1 }) end, "Conv2d: unknown option 'padd'" },
      { function() nn.CrossEntropyLoss({ reductoin = 'sum' }) end,
        "CrossEntropyLoss: unknown option 'reductoin'" },
      { function() nn.NLLLoss({ label_smoothing = 0.1 }) end, "NLLLoss: unknown option 'label_smoothing'" },
      { function() nn.MSELoss({ size_average = true }) end, "MSELoss: unknown option 'size_average'" },
      { function() nn.BCEWithLogitsLoss({ posweight = 1 }) end,
        "BCEWithLogitsLoss: unknown option 'posweight'" },
      { function() nn.BatchNorm1d(3, { momentun = 0.1 }) end, "BatchNorm1d: unknown option 'momentun'" },
      { function() nn.LayerNorm(3, { epsilon = 1 }) end, "LayerNorm: unknown option 'epsilon'" },
      { function() nn.MaxPool2d(2, { strides = 1 }) end, "MaxPool2d: unknown option 'strides'" },
      { function() nn.Embedding(5, 2, { padding_idx = 1 }) end, "Embedding: unknown option 'padding_idx'" },
      { function() nn.Dropout({ prob = 0.1 }) end, "Dropout: unknown option 'prob'" },
      { function() nn.LeakyReLU({ slope = 0.1 }) end, "LeakyReLU: unknown option 'slope'" },
      { function() nn.Softmax({ axis = 1 }) end, "Softmax: unknown option 'axis'" },
      { function() nn.LogSoftmax({ axis = 1 }) end, "LogSoftmax: unknown option 'axis'" },
      { function() nn.Flatten({ start = 1 }) end, "Flatten: unknown option 'start'" },
      { function() nn.ReLU({ inplace = true }) end, "ReLU: unknown option 'inplace'" },
      { function() nn.ReLU(3) end, 'ReLU: expected an options table, got number' },
      { function() nn.Linear(3, 2, { bias = 0 }) end, "Linear: option 'bias' expects a boolean, got number" },
      { function() gb.data.DataLoader({ x = gb.zeros(3, 2), y = gb.zeros(3) }, { batchsize = 5 }) end,
        "DataLoader: unknown option 'batchsize'" },
      { function() gb.data.DataLoader({ x = gb.zeros(3, 2) }, { batch_size = '5' }) end,
        "DataLoader: option 'batch_size' expects a number, got string" },
    }
    for _, c in ipairs(cases) do
      local info = debug.getinfo(c[1], 'S')
      local e = err_of(c[1])
      assert_at(info.linedefined, c[2], e)
    end
  end)

  it('accept their documented options', function()
    assert.is_nil(nn.Linear(3, 2, { bias = false }).bias)
    local conv = nn.Conv2d(1, 2, 3, { padding = 1, stride = { 2, 1 }, bias = false })
    assert.are.same({ { 2, 1 }, { 1, 1 } }, { conv.stride, conv.padding })
    assert.are.equal(0.2, nn.Dropout({ p = 0.2 }).p)
    assert.are.equal(0.3, nn.LeakyReLU({ negative_slope = 0.3 }).negative_slope)
    assert.are.equal(5, #gb.data.DataLoader({ x = gb.zeros(10, 2) }, { batch_size = 2 }))
  end)

  it('check positional sizes: argument errors, not attempts to index nil', function()
    local cases = {
      { function() nn.Linear(nil) end, 'Linear: in_features must be a positive integer, got nil' },
      { function() nn.Linear(3) end, 'Linear: out_features must be a positive integer, got nil' },
      { function() nn.Linear(3.5, 2) end, 'Linear: in_features must be a positive integer, got 3.5' },
      { function() nn.Conv2d(nil) end, 'Conv2d: in_channels must be a positive integer, got nil' },
      { function() nn.Conv2d(1, 2) end, 'Conv2d: kernel_size must be a positive integer or {h, w}, got nil' },
      { function() nn.Conv2d(1, 2, 3, { padding = -1 }) end,
        'Conv2d: padding must be a non-negative integer or {h, w}, got -1' },
      { function() nn.BatchNorm1d() end, 'BatchNorm1d: num_features must be a positive integer, got nil' },
      { function() nn.LayerNorm() end,
        'LayerNorm: normalized_shape must be a positive integer or a table of them, got nil' },
      { function() nn.MaxPool2d() end, 'MaxPool2d: kernel_size must be a positive integer or {h, w}, got nil' },
      { function() nn.Embedding(nil, 3) end, 'Embedding: num_embeddings must be a positive integer, got nil' },
      { function() nn.Flatten('a') end, 'Flatten: start_dim must be an integer, got a' },
      { function() nn.Embedding(4, 2)(gb.tensor({ 1.5 })) end,
        'Embedding: expected indices of dtype int64 or int32, got float32' },
    }
    for _, c in ipairs(cases) do
      local info = debug.getinfo(c[1], 'S')
      assert_at(info.linedefined, c[2], err_of(c[1]))
    end
  end)

  it('subclassed, report the line of the user file', function()
    local MyLinear = nn.Linear:extend('MyLinear')
    local init_line
    function MyLinear:init(i, o, opts)
      init_line = here(); nn.Linear.init(self, i, o, opts)
    end
    local e = err_of(function() MyLinear(3, 2, { bais = 1 }) end)
    assert_at(init_line, "Linear: unknown option 'bais'", e)
    -- a module whose forward misuses a library layer: the user's forward line is named
    local Net = nn.Module:extend('Net')
    function Net:init() self.fc = nn.Linear(3, 2) end
    local fwd_line
    function Net:forward(x) fwd_line = here(); local y = self.fc(x); return y end
    e = err_of(function() Net()(gb.zeros(2, 4)) end)
    assert.are.equal(fwd_line, tonumber(e:match('strict_spec%.lua:(%d+):')), e)
  end)
end)

describe('errors caught and raised again by the library', function()
  it('carry one position, the user line', function()
    local line = here(); local e = err_of(function() gb.data.fashion_mnist('/nonexistent', 'test') end)
    assert.are.equal(line, tonumber(e:match('^[^\n]-strict_spec%.lua:(%d+): data%.fashion_mnist: no MNIST test files')), e)
    assert.is_nil(e:match(':%d+: .*:%d+: '), e)
    assert.are.equal('boom', errors.message('some/file.lua:12: boom'))
  end)
end)

describe('tensor constructors', function()
  it('take a trailing dtype string', function()
    assert.are.equal('int64', gb.tensor({ 1, 2, 3 }, 'int64').dtype)
    assert.are.same({ 1, 2, 3 }, gb.tensor({ 1, 2, 3 }, 'int64'):totable())
    assert.are.equal('int64', gb.ones(2, 'int64').dtype)
    assert.are.equal('int32', gb.zeros(2, 3, 'int32').dtype)
    assert.are.equal('int64', gb.zeros({ 2, 3 }, 'int64').dtype)
    assert.are.equal('int64', gb.full({ 2 }, 7, 'int64').dtype)
    assert.are.equal('int64', gb.arange(1, 5, 'int64').dtype)
    assert.are.equal('int64', gb.eye(2, 'int64').dtype)
    assert.are.equal('int64', gb.ones_like(gb.zeros(2), 'int64').dtype)
    assert.are.equal('float32', gb.ones(2, 'float32').dtype)
  end)

  it('reject unknown options, bad dtypes and stray arguments at the user line', function()
    local cases = {
      { function() gb.zeros(2, { dtyp = 'int64' }) end, "zeros: unknown option 'dtyp'" },
      { function() gb.tensor({ 1 }, { requires_gard = true }) end, "tensor: unknown option 'requires_gard'" },
      { function() gb.ones_like(gb.ones(1), { devic = 'cpu' }) end, "ones_like: unknown option 'devic'" },
      { function() gb.full({ 2 }, 1, { dtype = 'int64', shape = 2 }) end, "full: unknown option 'shape'" },
      { function() gb.arange(3, { step = 2 }) end, "arange: unknown option 'step'" },
      { function() gb.eye(2, { n = 2 }) end, "eye: unknown option 'n'" },
      { function() gb.randn(2, { mean = 1 }) end, "randn: unknown option 'mean'" },
      { function() gb.tensor({ 1 }, 'int65') end,
        "tensor: unknown dtype 'int65' (expected float32, float64, int32 or int64)" },
      { function() gb.zeros(2, { requires_grad = 1 }) end,
        "zeros: option 'requires_grad' expects a boolean, got number" },
      { function() gb.ones(2, true) end, 'ones: expected an options table {dtype=, device=, '
        .. 'requires_grad=} or a dtype string as argument 2, got boolean' },
      { function() gb.zeros(2, 'int64', 5) end, 'zeros: unexpected argument 3 (number) after the options' },
    }
    for _, c in ipairs(cases) do
      assert_at(debug.getinfo(c[1], 'S').linedefined, c[2], err_of(c[1]))
    end
  end)
end)

describe('gb.save and gb.load', function()
  local path = os.tmpname()
  after_each(function() os.remove(path) end)

  it('load takes {device=} and nothing else', function()
    gb.save(path, { w = gb.ones(2) })
    assert.are.same({ 1, 1 }, gb.load(path, { device = 'cpu' }).w:totable())
    local line = here(); local e = err_of(function() gb.load(path, { map_location = 'cpu' }) end)
    assert_at(line, "load: unknown option 'map_location'", e)
    e = err_of(function() gb.load(path, 'cpu') end)
    assert.matches('load: expected an options table {device=} as argument 2, got string$', e)
  end)

  it("save names PyTorch's swapped order and extra arguments", function()
    local line = here(); local e = err_of(function() gb.save({ w = gb.ones(2) }, path) end)
    assert_at(line, "save: the path comes first: save(path, tensors [, metadata]) (PyTorch's "
      .. 'torch.save(obj, path) order is swapped here)', e)
    e = err_of(function() gb.save(path, {}, {}, 4) end)
    assert.matches('save: expected save%(path, tensors %[, metadata%]%), got 4 arguments$', e)
  end)
end)
