-- conv_spec.lua — Conv2d and MaxPool2d forward and backward against numbers recorded from
-- PyTorch (recipe: tests/fixtures/conv/make_conv.py), on inputs made by a formula.
local gb = require 'gpubp'
local support = dofile('tests/lua/support.lua')
local fill, flat = support.fill, support.flat
local assert_close = support.assert_list_close
local expected = dofile('tests/fixtures/conv/expected.lua')

describe('Conv2d and MaxPool2d', function()
  it('match PyTorch forward and backward', function()
    local conv = gb.nn.Conv2d(2, 3, {3, 2}, {stride = {2, 1}, padding = {1, 1}})
    gb.no_grad(function()
      conv.weight:copy_(fill({3, 2, 3, 2}, 0.91, 0.3))
      conv.bias:copy_(fill({3}, 1.3, 0.5))
    end)
    local pool = gb.nn.MaxPool2d({2, 2}, {stride = {1, 2}, padding = {1, 0}})
    local x = fill({2, 2, 5, 6}, 0.37, 0.1):requires_grad_()
    local y = conv(x)
    local p = pool(y)
    assert.are.same(expected.y_shape, y.shape)
    assert.are.same(expected.p_shape, p.shape)
    assert_close(flat(y), expected.y, 'conv output')
    assert_close(flat(p), expected.p, 'pool output')
    local loss = (p * fill(p.shape, 0.53, 0.7)):sum()
    assert_close({loss:item()}, {expected.loss}, 'loss')
    loss:backward()
    assert_close(flat(x.grad), expected.dx, 'd input')
    assert_close(flat(conv.weight.grad), expected.dw, 'd weight')
    assert_close(flat(conv.bias.grad), expected.db, 'd bias')
  end)

  it('names the problem with a wrong input', function()
    local conv = gb.nn.Conv2d(3, 4, 3)
    local ok, err = pcall(conv, gb.ones(1, 2, 8, 8))
    assert.is_false(ok)
    assert.is_truthy(err:find('Conv2d: expected input (N, 3, H, W), got (1,2,8,8)', 1, true), err)
    ok, err = pcall(gb._max_pool2d, gb.ones(1, 1, 2, 2), 3, 3, 1, 1, 0, 0)
    assert.is_false(ok)
    assert.is_truthy(err:find('max_pool2d: kernel 3x3 is larger than the padded input 2x2', 1, true), err)
  end)

  -- the 2x2 / stride 2 kernel has its own loop: forward and gradient against windows searched
  -- here (first maximum wins ties, a NaN wins its window), on odd sizes (the last row and
  -- column are dropped), with ties and a NaN
  it('MaxPool2d(2): first maximum, NaN wins, odd sizes', function()
    local N, C, H, W = 2, 3, 7, 9
    local v = {}
    for i = 0, N * C * H * W - 1 do v[i + 1] = math.floor(math.sin(0.7 * i + 0.2) * 4) end
    v[30] = 0 / 0
    local x = gb.tensor(v):view(N, C, H, W):requires_grad_()
    local y = gb._max_pool2d(x, 2, 2, 2, 2, 0, 0)
    local OH, OW = H // 2, W // 2
    assert.are.same({N, C, OH, OW}, y.shape)
    local gy = fill(y.shape, 0.53, 0.7)
    local gv = flat(gy)
    y:backward(gy)
    local want_y, want_g = {}, {}
    for i = 1, N * C * H * W do want_g[i] = 0 end
    for p = 0, N * C - 1 do
      for oy = 0, OH - 1 do
        for ox = 0, OW - 1 do
          local best, bv
          for ky = 0, 1 do
            for kx = 0, 1 do
              local e = p * H * W + (2 * oy + ky) * W + 2 * ox + kx + 1
              local val = v[e]
              if not best or (bv == bv and (val ~= val or val > bv)) then best, bv = e, val end
            end
          end
          local o = (p * OH + oy) * OW + ox + 1
          want_y[o] = bv
          want_g[best] = want_g[best] + gv[o]
        end
      end
    end
    local got = flat(y)
    for i = 1, #want_y do
      if want_y[i] ~= want_y[i] then
        assert.is_true(got[i] ~= got[i], 'output ' .. i .. ' should be NaN')
        want_y[i], got[i] = 0, 0
      end
    end
    assert_close(got, want_y, 'pool output')
    assert_close(flat(x.grad), want_g, 'd input')
  end)
end)
