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
    assert.matches("Foo: option 'stride' expects a integer or a table, got number$", e)
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
