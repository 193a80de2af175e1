-- shape_overflow_spec.lua — issue 19, class 1: products and sums of sizes never wrap. Every
-- shape rule, view, window rule and allocation goes through one checked helper
-- (runtime/core/gb_checked.h); hostile sizes give an error naming the op and the shape, and
-- the session goes on computing correctly.
local gb = require 'gpubp'

local function fails_with(expected, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, 'expected an error containing: ' .. expected)
  assert.is_truthy(tostring(err):find(expected, 1, true),
    ('error %q does not contain %q'):format(tostring(err), expected))
  assert.are.equal(6, (gb.ones(2, 3) * 1):sum():item()) -- the runtime still computes
end

describe('shape arithmetic overflow', function()
  it('view: a product that wraps to the element count is refused', function()
    -- 16 * (2^60 + 1) wraps to 16 in int64
    fails_with('view: shape (16,1152921504606846977) is invalid for a tensor of shape (16)',
      function() return gb.ones(16):view(16, 1152921504606846977)[2]:fill_(7) end)
    -- 2^32 * 2^32 wraps to 0, the element count of an empty tensor
    fails_with('view: shape (4294967296,4294967296) is invalid for a tensor of shape (0)',
      function() return gb.zeros(0):view(2^32, 2^32) end)
    fails_with('view: shape (2,4611686018427387904,2) is invalid',
      function() return gb.zeros(8):reshape(2, 2^62, 2) end)
    -- a legal view still works
    local v = gb.arange(1, 7):view(2, 3)
    assert.are.same({{1, 2, 3}, {4, 5, 6}}, v:totable())
  end)

  it('view(-1, ...) with the other sizes multiplying to 0 is an error, not size -1', function()
    fails_with('view: cannot infer the size -1 in (-1,0)', function() return gb.zeros(0):view(-1, 0) end)
    fails_with('view: cannot infer the size -1 in (0,-1)', function() return gb.zeros(0, 3):view(0, -1) end)
    assert.are.same({0, 3}, gb.zeros(0, 3):view(-1, 3).shape)
  end)

  it('narrow: start + length does not wrap', function()
    fails_with('narrow: start 2 and length 9223372036854775807 exceed dimension 1 (size 4)',
      function() return gb.ones(4):narrow(1, 2, math.maxinteger):narrow(1, 2, 1) end)
    fails_with('narrow: start 9223372036854775807 and length 1 exceed dimension 1',
      function() return gb.ones(4):narrow(1, math.maxinteger, 1) end)
    assert.are.same({2, 3}, gb.arange(1, 5):narrow(1, 2, 2):totable())
  end)

  it('expand: a view bigger than the element cap is refused before any loop runs', function()
    fails_with('expand: shape (1125899906842624) is too large (more than 2^36 elements',
      function() return gb.ones(1):expand(2^50):sum() end)
    fails_with('expand: shape (4294967296,4294967296) is too large',
      function() return gb.ones(1, 1):expand(2^32, 2^32) end)
    assert.are.equal(12, gb.ones(1, 1):expand(3, 4):sum():item())
  end)

  it('empty tensors with huge sizes: their strides would overflow', function()
    fails_with('zeros: shape (0,4611686018427387904,4611686018427387904) is too large',
      function() return gb.zeros(0, 2^62, 2^62) end)
    fails_with('expand: shape (0,4611686018427387904,4611686018427387904) is too large',
      function() return gb.zeros(0, 1, 1):expand(0, 2^62, 2^62) end)
    assert.are.same({0, 5, 7}, gb.zeros(0, 5, 7).shape)
  end)

  it('a crafted safetensors file with shape [0, 2^62, 2^62] is refused at load', function()
    local json = '{"w":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],'
      .. '"data_offsets":[0,0]}}'
    local path = os.tmpname()
    local f = assert(io.open(path, 'wb'))
    f:write(string.pack('<I8', #json), json)
    f:close()
    fails_with("tensor 'w': shape (0,4611686018427387904,4611686018427387904) is too large",
      function() return gb.load(path) end)
    os.remove(path)
  end)

  it('pad: start + size does not wrap (gb._pad, which gb.cat uses)', function()
    fails_with('pad: (2) placed at 9223372036854775807 does not fit size 3 along dimension 1',
      function() return gb._pad(gb.ones(2), 1, math.maxinteger, 3) end)
    fails_with('pad: start -9223372036854775808 must be >= 1',
      function() return gb._pad(gb.ones(2), 1, math.mininteger, 3) end)
    fails_with('pad: (2) placed at 2 does not fit size -9223372036854775808',
      function() return gb._pad(gb.ones(2), 1, 2, math.mininteger) end)
    fails_with('pad: shape (1099511627776) is too large', function() return gb._pad(gb.ones(2), 1, 1, 2^40) end)
    assert.are.same({0, 1, 1, 0}, gb._pad(gb.ones(2), 1, 2, 4):totable())
  end)

  it('window rules (im2col, max_pool2d): kernel, padding and output sizes are checked', function()
    local x = gb.ones(1, 1, 4, 4)
    fails_with('im2col: the patches of (1,1,4,4) with a 2147483648x2147483648 kernel',
      function() return gb._im2col(x, 2^31, 2^31, 1, 1, 2^30, 2^30) end)
    fails_with('im2col: a 4x4 input padded by 4611686018427387903x4611686018427387903 is too large',
      function()
        return gb._im2col(x, math.maxinteger, math.maxinteger, 1, 1, math.maxinteger // 2,
          math.maxinteger // 2)
      end)
    fails_with('max_pool2d: a 4x4 input padded by 549755813888x549755813888 is too large',
      function() return gb.nn.MaxPool2d(1 << 40, {padding = 1 << 39})(x) end)
    fails_with('max_pool2d: kernel 1x1, stride 1x1, padding 4611686018427387904x0',
      function() return gb._max_pool2d(x, 1, 1, 1, 1, 2^62, 0) end)
    -- a legal im2col: 4 patches of 2x2 from a 3x3 image
    local img = gb.arange(1, 10):view(1, 1, 3, 3)
    assert.are.same({{{1, 2, 4, 5}, {2, 3, 5, 6}, {4, 5, 7, 8}, {5, 6, 8, 9}}},
      gb._im2col(img, 2, 2, 1, 1, 0, 0):totable())
  end)

  it('the out-of-memory message counts the bytes without overflow', function()
    -- 10^18 float32 elements are 4 * 10^18 bytes; the old message said "needs 0 GiB" for
    -- sizes whose byte count wrapped
    fails_with('out of memory: tensor of shape (1000000,1000000,1000000) needs 3.725e+09 GiB '
      .. '(4000000000000000000 bytes', function() return gb.zeros(1e6, 1e6, 1e6) end)
    fails_with('out of memory: tensor of shape (4611686018427387904) needs 1.718e+10 GiB '
      .. '(18446744073709551616 bytes', function() return gb.zeros(2^62) end)
  end)
end)
