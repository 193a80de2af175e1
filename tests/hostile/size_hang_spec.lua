-- size_hang_spec.lua — issue 19, hangs by size: sizes that would make a C loop run for
-- minutes fail at once. Every tensor and view is capped at 2^36 elements (a broadcast or
-- expanded view included), and pooling visits only the part of each window inside the
-- image, so a huge padded kernel costs what a small one does. No timing is asserted: a
-- regression shows as this spec running for hours.
local gb = require 'gpubp'

local function fails_with(expected, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, 'expected an error containing: ' .. expected)
  assert.is_truthy(tostring(err):find(expected, 1, true),
    ('error %q does not contain %q'):format(tostring(err), expected))
end

describe('sizes that would hang', function()
  it('MaxPool2d(2^40, {padding=2^39}) on a 4x4 input is refused', function()
    fails_with('max_pool2d: a 4x4 input padded by 549755813888x549755813888 is too large (at most 2^36 per side)',
      function() return gb.nn.MaxPool2d(1 << 40, { padding = 1 << 39 })(gb.ones(1, 1, 4, 4)) end)
  end)

  it('a huge padded kernel inside the cap pools only the image (2^60 window steps before)', function()
    local x = gb.arange(1, 17):view(1, 1, 4, 4)
    local y = gb.nn.MaxPool2d(1 << 30, { padding = 1 << 29 })(x)
    assert.are.same({ 1, 1, 1, 1 }, y.shape)
    assert.are.equal(16, y:item())
    -- and its gradient reaches the maximum only
    local xg = gb.arange(1, 17):view(1, 1, 4, 4):requires_grad_()
    gb._max_pool2d(xg, 2^30, 2^30, 2^30, 2^30, 2^29, 2^29):sum():backward()
    assert.are.equal(1, xg.grad:sum():item())
    assert.are.equal(1, xg.grad:view(-1)[16]:item())
  end)

  it('a broadcast sum over 2^50 elements is refused', function()
    fails_with('expand: shape (1125899906842624) is too large (more than 2^36 elements',
      function() return gb.ones(1):expand(2^50):sum() end)
    fails_with('expand: shape (33554432,33554432) is too large',
      function() return gb.ones(1, 1):expand(2^25, 2^25):sum() end)
    fails_with('out of memory: tensor of shape (33554432,33554432) needs',
      function() return gb.ones(2^25, 1) + gb.ones(1, 2^25) end)
  end)

  it('the cap leaves ordinary broadcasts alone', function()
    assert.are.equal(2^20, gb.ones(1):expand(2^20):sum():item())
    assert.are.equal(6, (gb.ones(2, 1) + gb.zeros(1, 3)):sum():item())
  end)

  it('creation sizes are checked against the cap before anything is allocated, naming the op', function()
    -- the count of arange is checked in floating point, before it becomes an integer (1e300
    -- converted to int64 is undefined behaviour)
    fails_with('arange: from 0 to 1e+300 by 1 is 1e+300 elements, more than a tensor may have (2^36)',
      function() return gb.arange(0, 1e300) end)
    fails_with('arange: from -1e+308 to 1e+308 by 1 is inf elements, more than a tensor may have (2^36)',
      function() return gb.arange(-1e308, 1e308) end)
    fails_with('arange: from 0 to 1 by 1e-12 is 1000000000000 elements, more than a tensor may have (2^36)',
      function() return gb.arange(0, 1, 1e-12) end)
    fails_with('arange: from -2251799813685248 to 0 by 1 is 2251799813685248 elements',
      function() return gb.arange(-2 ^ 51, 0) end)
    fails_with('randperm: n = 1099511627776 is more elements than a tensor may have (2^36)',
      function() return gb.randperm(2 ^ 40 // 1) end)
    fails_with('randperm: n must be >= 0, got -5', function() return gb.randperm(-5) end)
    fails_with('linspace: out of memory: tensor of shape (1099511627776) needs 4096 GiB',
      function() return gb.linspace(0, 1, 1 << 40) end)
    fails_with('full: out of memory: tensor of shape (1099511627776) needs 4096 GiB',
      function() return gb.full({ 2 ^ 40 // 1 }, 1) end)
    fails_with('empty: out of memory: tensor of shape (1099511627776,1024) needs 4.194e+06 GiB',
      function() return gb.empty(2 ^ 40 // 1, 1024) end)
    fails_with('eye: out of memory: tensor of shape (4294967296,4294967296)',
      function() return gb.eye(2 ^ 32 // 1) end)
    -- an empty range and a small one are still fine
    assert.are.equal(0, gb.arange(5, 5):numel())
    assert.are.same({ 0, 1, 2 }, gb.arange(0, 3):totable())
  end)
end)
