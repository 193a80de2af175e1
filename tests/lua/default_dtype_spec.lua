-- default_dtype_spec.lua — gb.set_default_dtype / gb.get_default_dtype (issue 15), as
-- torch.set_default_dtype: creations without a dtype (zeros, ones, full, empty, rand, randn,
-- tensor from Lua numbers, linspace, arange, eye, layer parameters) use it; explicit dtypes,
-- *_like and integer creations (randperm) keep theirs; only float32 and float64 are accepted.
-- Run: build/gpubp /usr/bin/busted tests/lua/default_dtype_spec.lua

local gb = require('gpubp')

describe('gb.set_default_dtype', function()
  after_each(function() gb.set_default_dtype('float32') end)

  it('starts as float32 and is read back by get_default_dtype', function()
    assert.are.equal('float32', gb.get_default_dtype())
    gb.set_default_dtype('float64')
    assert.are.equal('float64', gb.get_default_dtype())
    gb.set_default_dtype('float32')
    assert.are.equal('float32', gb.get_default_dtype())
    gb.set_default_dtype('double') -- the alias, as dtype= takes it
    assert.are.equal('float64', gb.get_default_dtype())
  end)

  it('float64: every creation without a dtype makes float64, with double values', function()
    gb.set_default_dtype('float64')
    local made = { gb.zeros(2), gb.ones(2, 3), gb.full({ 2 }, 0.1), gb.empty(2), gb.rand(3),
      gb.randn(3), gb.tensor({ 1.5, 2 }), gb.tensor({ 1, 2 }), gb.tensor(3), gb.linspace(0, 1, 3),
      gb.arange(3), gb.arange(0, 1, 0.25), gb.eye(2), gb.zeros(2, { device = 'cpu' }) }
    for i, t in ipairs(made) do assert.are.equal('float64', t.dtype, 'creation ' .. i) end
    assert.are.equal(0.1, gb.full({ 1 }, 0.1)[1]:item()) -- the double 0.1, not float32's
    assert.are.equal(1 + 1e-12, gb.tensor({ 1 + 1e-12 })[1]:item())
    -- and layer parameters, as PyTorch's
    local lin = gb.nn.Linear(3, 2)
    assert.are.equal('float64', lin.weight.dtype)
    assert.are.equal('float64', lin.bias.dtype)
    assert.are.equal('float64', gb.nn.LayerNorm(4).weight.dtype)
    local y = lin(gb.randn(5, 3))
    assert.are.equal('float64', y.dtype)
  end)

  it('keeps explicit dtypes, *_like dtypes and integer creations', function()
    gb.set_default_dtype('float64')
    assert.are.equal('float32', gb.zeros(2, 'float32').dtype)
    assert.are.equal('float32', gb.rand(2, { dtype = 'float32' }).dtype)
    assert.are.equal('int64', gb.tensor({ 1, 2 }, 'int64').dtype)
    assert.are.equal('int64', gb.randperm(4).dtype)
    assert.are.equal('int32', gb.zeros_like(gb.zeros(2, 'int32')).dtype)
    assert.are.equal('float32', gb.rand_like(gb.zeros(2, 'float32')).dtype)
    -- numbers in arithmetic keep the tensor's dtype, whatever the default
    assert.are.equal('float32', (gb.ones(2, 'float32') + 1).dtype)
    gb.set_default_dtype('float32')
    assert.are.equal('float32', gb.zeros(2).dtype)
    assert.are.equal('float32', gb.nn.Linear(3, 2).weight.dtype)
  end)

  it('refuses anything but float32 and float64, naming the accepted ones', function()
    local ok, e = pcall(gb.set_default_dtype, 'float16')
    assert.is_false(ok)
    assert.matches("set_default_dtype: unknown dtype 'float16' %(expected float32 or float64%)$", e)
    ok, e = pcall(gb.set_default_dtype, 'int64')
    assert.is_false(ok)
    assert.matches('set_default_dtype: int64 is not a float dtype %(expected float32 or float64%)$', e)
    ok, e = pcall(gb.set_default_dtype)
    assert.is_false(ok)
    assert.matches('bad argument #1 to .*set_default_dtype', e)
    assert.are.equal('float32', gb.get_default_dtype()) -- unchanged by the failures
  end)
end)
