-- conv_dnnl_spec.lua — the conv2d rows give the same numbers through oneDNN (runtime/cpu/
-- gb_dnnl.c) as through their own kernels: forward, input, weight and bias gradients with
-- gb._conv_dnnl('always') against gb._conv_dnnl('off'), on odd sizes, strides, padding,
-- rectangular and 1x1 kernels, and one layer wide enough (C*kh*kw >= 256) that 'auto' sends
-- its backward passes to oneDNN too. Where oneDNN is missing both modes run the own kernels
-- and the comparison still holds.
local gb = require 'gpubp'
local support = dofile('tests/lua/support.lua')
local fill = support.fill

-- x, w, b, y and the three gradients of sum(y * r) under the given mode
local function run(mode, case)
  local was = gb._conv_dnnl(mode)
  local x = fill(case.x, 0.37, 0.1):requires_grad_()
  local w = fill(case.w, 0.91, 0.3):requires_grad_()
  local b = fill({case.w[1]}, 1.3, 0.5):requires_grad_()
  local y = gb._conv2d(x, w, b, case.w[3], case.w[4], case.s[1], case.s[2], case.p[1], case.p[2])
  ;(y * fill(y.shape, 0.53, 0.7)):sum():backward()
  gb._conv_dnnl(was)
  return { y = y:detach(), gx = x.grad, gw = w.grad, gb = b.grad }
end

local function assert_same(got, want, what)
  assert.are.same(want.shape, got.shape, what .. ' shape')
  local scale = math.max(1, want:abs():max():item())
  local diff = (got - want):abs():max():item()
  assert.is_true(diff <= 1e-5 * scale, ('%s: differs by %g (scale %g)'):format(what, diff, scale))
end

local cases = {
  { name = 'odd sizes, stride 2x1, padding 1x1, 3x2 kernel', x = {2, 3, 9, 7}, w = {5, 3, 3, 2}, s = {2, 1}, p = {1, 1} },
  { name = '32 -> 16 channels, 3x3 (backward through oneDNN under auto)', x = {2, 32, 10, 10}, w = {16, 32, 3, 3}, s = {1, 1}, p = {1, 1} },
  { name = '1x1 kernel', x = {3, 4, 6, 6}, w = {8, 4, 1, 1}, s = {1, 1}, p = {0, 0} },
  { name = '5x5, stride 3, padding 2', x = {2, 2, 11, 11}, w = {3, 2, 5, 5}, s = {3, 3}, p = {2, 2} },
}

describe('conv2d through oneDNN', function()
  for _, case in ipairs(cases) do
    it('matches the own kernels: ' .. case.name, function()
      local own, dn, auto = run('off', case), run('always', case), run('auto', case)
      for _, k in ipairs({ 'y', 'gx', 'gw', 'gb' }) do
        assert_same(dn[k], own[k], 'always ' .. k)
        assert_same(auto[k], own[k], 'auto ' .. k)
      end
    end)
  end

  it('says which library it uses, and switches modes', function()
    run('always', cases[1])
    local mode, name = gb._conv_dnnl()
    assert.are.equal('auto', mode)
    assert.is_truthy(name:find('^oneDNN %d+%.%d+') or name:find('unavailable', 1, true)
      or name:find('not built in', 1, true), name)
    assert.are.equal('auto', (gb._conv_dnnl('off')))
    assert.are.equal('off', (gb._conv_dnnl('auto')))
    local ok, err = pcall(gb._conv_dnnl, 'sometimes')
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("invalid option 'sometimes'", 1, true), err)
  end)
end)
