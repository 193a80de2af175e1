-- parity_spec.lua — gpubp against numbers recorded from PyTorch (tests/fixtures/parity/
-- expected.lua, made by make_parity.py next to it): a fixed 4-5-3 MLP's logits, loss and
-- every gradient, then the losses and parameters after 3 steps of each optimizer.
-- Tolerance: 1e-5 relative (plus 1e-7 absolute for values near zero).
-- Run: build/gpubp /usr/bin/busted tests/lua/parity_spec.lua

local gb = require('gpubp')
local nn, optim = gb.nn, gb.optim

local expected = dofile('tests/fixtures/parity/expected.lua')
local NAMES = { 'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias' }
local RTOL, ATOL = 1e-5, 1e-7

local function flat(v, out)
  out = out or {}
  if type(v) == 'table' then for _, e in ipairs(v) do flat(e, out) end
  else out[#out + 1] = v end
  return out
end

local function assert_parity(what, actual, want)
  local a = flat(gb.is_tensor(actual) and actual:totable() or actual)
  local e = flat(want)
  assert.are.equal(#e, #a, what .. ': element count')
  for i = 1, #e do
    if math.abs(a[i] - e[i]) > RTOL * math.abs(e[i]) + ATOL then
      error(string.format('%s, element %d: gpubp %.9g, PyTorch %.9g (rel. diff %.2g)', what, i,
        a[i], e[i], math.abs(a[i] - e[i]) / math.max(math.abs(e[i]), 1e-30)), 2)
    end
  end
end

local MLP = nn.Module:extend('MLP')
function MLP:init()
  self.fc1 = nn.Linear(4, 5)
  self.fc2 = nn.Linear(5, 3)
end
function MLP:forward(x) return self.fc2(self.fc1(x):relu()) end

local function make_model()
  local m = MLP()
  local sd = {}
  for _, name in ipairs(NAMES) do sd[name] = gb.tensor(expected.init[name]) end
  m:load_state_dict(sd)
  return m
end

local x = gb.tensor(expected.x)
local y = gb.tensor(expected.y, { dtype = 'int64' })
local criterion = nn.CrossEntropyLoss()

describe('parity with PyTorch: forward and backward', function()
  it('matches logits, loss and every gradient', function()
    local m = make_model()
    local logits = m(x)
    assert_parity('logits', logits, expected.logits)
    local loss = criterion(logits, y)
    assert_parity('loss', { loss:item() }, { expected.loss })
    loss:backward()
    local params = {}
    for _, np in ipairs(m:named_parameters()) do params[np[1]] = np[2] end
    for _, name in ipairs(NAMES) do
      assert_parity('grad ' .. name, params[name].grad, expected.grads[name])
    end
  end)
end)

describe('parity with PyTorch: optimizers', function()
  local keys = {}
  for k in pairs(expected.optim) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, key in ipairs(keys) do
    local case = expected.optim[key]
    it(key .. ' (' .. case.class .. ', ' .. expected.steps .. ' steps)', function()
      local m = make_model()
      local opt = optim[case.class](m:parameters(), case.opts)
      local losses = {}
      for _ = 1, expected.steps do
        opt:zero_grad()
        local loss = criterion(m(x), y)
        loss:backward()
        opt:step()
        losses[#losses + 1] = loss:item()
      end
      assert_parity(key .. ' losses', losses, case.losses)
      local params = {}
      for _, np in ipairs(m:named_parameters()) do params[np[1]] = np[2] end
      for _, name in ipairs(NAMES) do
        assert_parity(key .. ' ' .. name, params[name], case.params[name])
      end
    end)
  end
end)
