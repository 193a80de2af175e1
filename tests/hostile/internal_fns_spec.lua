-- internal_fns_spec.lua — issue 19, class 2: the module's internal functions (gb._pad,
-- gb._im2col, gb._max_pool2d, gb._sgd_step, gb._adam_step, gb._gather_rows, gb._slice,
-- gb._cat) validate their raw arguments like
-- the public ones. A sweep over hostile values must give Lua errors (never a crash: the suite
-- runs under ASan+UBSan in CI) and leave the runtime computing correctly.
local gb = require 'gpubp'

local function still_works()
  assert.are.equal(6, (gb.ones(2, 3) * 1):sum():item())
end

local function fails_with(expected, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, 'expected an error containing: ' .. expected)
  assert.is_truthy(tostring(err):find(expected, 1, true),
    ('error %q does not contain %q'):format(tostring(err), expected))
  still_works()
end

local function closed()
  local t = gb.ones(2)
  do local c <close> = t end -- luacheck: ignore
  return t
end

-- hostile integers and other values, shared by every sweep
local ints = { 0, 1, 2, 3, -1, -2, 2^31, 2^32, 2^62, math.maxinteger, math.mininteger,
  math.maxinteger // 2 + 1 }
local others = { 0.5, 0 / 0, 1 / 0, 'x', {}, true }

describe('internal functions', function()
  it('are exactly the ones this spec covers (a new one needs its checks here)', function()
    local names = {}
    for k, v in pairs(gb) do
      if type(k) == 'string' and k:sub(1, 1) == '_' and type(v) == 'function' then
        names[#names + 1] = k
      end
    end
    table.sort(names)
    assert.are.same({ '_adam_step', '_adaptive_avg_pool2d', '_avg_pool2d', '_batch_norm',
      '_can_gather_rows', '_cat', '_conv2d', '_conv_dnnl', '_gather_rows', '_grad_hooks', '_graph_new',
      '_gru_seq', '_hook_id', '_im2col', '_layer_norm', '_layer_norm_fused', '_lstm_seq', '_masked_softmax',
      '_max_pool2d', '_pad', '_post_backward', '_sdpa', '_sdpa_takes', '_sgd_step', '_slice' },
      names)
  end)

  it('gb._post_backward is one list; hostile entries are skipped, an error is backward\'s', function()
    local list = gb._post_backward(1, 'x', {})
    assert.are.equal(list, gb._post_backward())
    local n0 = #list
    local ran = 0
    list[n0 + 1] = 42
    list[n0 + 2] = function() ran = ran + 1 end
    local x = gb.ones(2, { requires_grad = true })
    x:sum():backward()
    assert.are.equal(1, ran)
    list[n0 + 2] = function() error('post hook failed') end
    local ok, err = pcall(function() (x * 2):sum():backward() end)
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find('post hook failed', 1, true))
    list[n0 + 2], list[n0 + 1] = nil, nil
    still_works()
  end)

  it('gb._slice checks dim, start, count and step (issue 15: the strided view of slice)', function()
    local x = gb.arange(10)
    fails_with('slice: start 0 must be >= 1', function() return gb._slice(x, 1, 0, 2, 2) end)
    fails_with('slice: 4 elements from 2 with step 3 do not fit dimension 1 (size 10)',
      function() return gb._slice(x, 1, 2, 4, 3) end)
    fails_with('slice: dimension 2 out of range', function() return gb._slice(x, 2, 1, 1, 1) end)
    assert.are.same({ 1, 4, 7 }, gb._slice(x, 1, 2, 3, 3):totable())
    for _, start in ipairs(ints) do
      for _, count in ipairs(ints) do
        for _, step in ipairs(ints) do
          local ok, out = pcall(gb._slice, x, 1, start, count, step)
          if ok then
            assert.is_true(start >= 1 and count >= 0 and out:numel() == count)
            assert.is_true(count == 0 or start + (count - 1) * step <= 10)
          end
        end
      end
    end
    for _, v in ipairs(others) do assert.is_false(pcall(gb._slice, x, 1, v, 1, 1)) end
    still_works()
  end)

  it('gb._cat checks its tensors and dim (issue 15: one cat row)', function()
    local a, b = gb.ones(2, 3), gb.zeros(1, 3)
    fails_with('cat: 1 to 5 tensors per row, got 6', function() return gb._cat(1, a, a, a, a, a, a) end)
    fails_with('cat: 1 to 5 tensors per row, got 0', function() return gb._cat(1) end)
    assert.are.same({ 10, 3 }, gb._cat(1, a, a, a, a, a).shape)
    fails_with('cat: tensor 2 (2,3) float32 does not fit tensor 1 (1,3) float32',
      function() return gb._cat(2, b, a) end)
    fails_with('cat: tensor 2 (1,3) int64 does not fit', function() return gb._cat(1, a, b:long()) end)
    fails_with("bad argument #3 to '_cat' (tensor was closed)", function() return gb._cat(1, a, closed()) end)
    assert.are.same({ 3, 3 }, gb._cat(1, a, b).shape)
    for _, d in ipairs(ints) do pcall(gb._cat, d, a, b) end
    for _, v in ipairs(others) do assert.is_false(pcall(gb._cat, v, a, b)) end
    still_works()
  end)

  it('gb._pad checks dim, start and size', function()
    fails_with('pad: dimension 3 out of range for a 1-D tensor', function() return gb._pad(gb.ones(2), 3, 1, 4) end)
    fails_with('pad: start 0 must be >= 1', function() return gb._pad(gb.ones(2), 1, 0, 4) end)
    fails_with('pad: (2) placed at 4 does not fit size 4', function() return gb._pad(gb.ones(2), 1, 4, 4) end)
    fails_with("bad argument #1 to '_pad' (tensor was closed)", function() return gb._pad(closed(), 1, 1, 4) end)
    local y = gb._pad(gb.tensor({ 5, 6 }), 1, 3, 5)
    assert.are.same({ 0, 0, 5, 6, 0 }, y:totable())
    -- sizes up to 2^36 are legal requests (2^31 is an 8 GB tensor): the sweep keeps the
    -- legal ones small and the rest hostile
    local sizes = { 0, 1, 2, 3, 4, 5, -1, -2, 2^37, 2^62, math.maxinteger, math.mininteger }
    for _, start in ipairs(ints) do
      for _, size in ipairs(sizes) do
        local ok, out = pcall(gb._pad, gb.ones(3), 1, start, size)
        if ok then -- only legal placements succeed, and then exactly
          assert.is_true(start >= 1 and start + 2 <= size)
          assert.are.equal(3, out:sum():item())
          assert.are.equal(size, out:numel())
        end
      end
    end
    still_works()
  end)

  it('gb._im2col and gb._max_pool2d check every window parameter', function()
    local x = gb.arange(1, 17):view(1, 1, 4, 4)
    fails_with('im2col: expected an (N,C,H,W) input, got (16)', function() return gb._im2col(gb.ones(16), 2, 2, 1, 1, 0, 0) end)
    fails_with('im2col: kernel 0x2, stride 1x1, padding 0x0', function() return gb._im2col(x, 0, 2, 1, 1, 0, 0) end)
    fails_with('max_pool2d: kernel 2x2, stride 0x1, padding 0x0', function() return gb._max_pool2d(x, 2, 2, 0, 1, 0, 0) end)
    fails_with('max_pool2d: kernel 5x5 is larger than the padded input 4x4', function() return gb._max_pool2d(x, 5, 5, 1, 1, 0, 0) end)
    assert.are.same({ { { { 6, 8 }, { 14, 16 } } } }, gb._max_pool2d(x, 2, 2, 2, 2, 0, 0):totable())
    local calls = 0
    for _, fn in ipairs({ gb._im2col, gb._max_pool2d }) do
      for i = 1, #ints do
        for j = 1, #ints do
          -- kernel i, stride j, padding drawn from the same list
          local k, s, p = ints[i], ints[j], ints[(i + j) % #ints + 1]
          local ok, out = pcall(fn, x, k, k, s, s, p, p)
          calls = calls + 1
          if ok then assert.is_true(gb.is_tensor(out) and out:numel() <= 2^36) end
        end
      end
      for _, v in ipairs(others) do
        assert.is_false(pcall(fn, x, v, 2, 1, 1, 0, 0))
      end
    end
    assert.is_true(calls > 200)
    still_works()
  end)

  it('gb._lstm_seq and gb._gru_seq check every operand', function()
    local z = gb.zeros
    fails_with('lstm_seq: (2,1,8), (8,2), (1,2), (1,3): expected input projections (T,B,4H), w_hh (4H,H), h0 and c0 (B,H)',
      function() return gb._lstm_seq(z(2, 1, 8), z(8, 2), z(1, 2), z(1, 3)) end)
    fails_with('lstm_seq: argument 2 has dtype int64, expected float32',
      function() return gb._lstm_seq(z(2, 1, 8), z({ 8, 2 }, { dtype = 'int64' }), z(1, 2), z(1, 2)) end)
    fails_with('gru_seq: (2,1,6), (6,2), (5), (1,2): expected input projections (T,B,3H), w_hh (3H,H), b_hh (3H), h0 (B,H)',
      function() return gb._gru_seq(z(2, 1, 6), z(6, 2), z(5), z(1, 2)) end)
    fails_with('gru_seq: (2,1,0), (0,0), (0), (1,0)',
      function() return gb._gru_seq(z(2, 1, 0), z(0, 0), z(0), z(1, 0)) end)
    fails_with("bad argument #3 to '_gru_seq' (tensor expected, got number)",
      function() return gb._gru_seq(z(2, 1, 6), z(6, 2), 3, z(1, 2)) end)
    fails_with("bad argument #1 to '_lstm_seq' (tensor was closed)",
      function() return gb._lstm_seq(closed(), z(8, 2), z(1, 2), z(1, 2)) end)
    -- empty sequences and batches are legal: the record holds the initial state
    local r = gb._lstm_seq(z(0, 3, 8), z(8, 2), gb.ones(3, 2), z(3, 2))
    assert.are.same({ 1, 3, 12 }, r.shape)
    assert.are.equal(6, r:sum():item())
    assert.are.same({ 4, 0, 10 }, gb._gru_seq(z(3, 0, 6), z(6, 2), z(6), z(0, 2)).shape)
    -- through autograd too: an empty batch has empty gradients
    local w = z(6, 2):requires_grad_()
    gb._gru_seq(z(3, 0, 6), w, z(6), z(0, 2)):sum():backward()
    assert.are.equal(0, w.grad:abs():sum():item())
    for _, v in ipairs(others) do
      assert.is_false(pcall(gb._lstm_seq, v, z(8, 2), z(1, 2), z(1, 2)))
    end
    still_works()
  end)

  it('gb._conv2d, gb._avg_pool2d, gb._adaptive_avg_pool2d and gb._batch_norm check their arguments', function()
    local x = gb.arange(1, 17):view(1, 1, 4, 4)
    local w, b = gb.ones(2, 1, 3, 3), gb.zeros(2)
    fails_with('conv2d: argument 1: expected an (N,C,H,W) input, got (16)',
      function() return gb._conv2d(gb.ones(16), w, b, 3, 3, 1, 1, 0, 0) end)
    fails_with('conv2d: weight (2,1,3,3) does not fit 1 input channels and a 2x2 kernel',
      function() return gb._conv2d(x, w, b, 2, 2, 1, 1, 0, 0) end)
    fails_with('conv2d: bias (3) does not match weight (2,1,3,3)',
      function() return gb._conv2d(x, w, gb.zeros(3), 3, 3, 1, 1, 0, 0) end)
    fails_with('conv2d: kernel 3x3 is larger than the padded input 2x2',
      function() return gb._conv2d(gb.ones(1, 1, 2, 2), w, b, 3, 3, 1, 1, 0, 0) end)
    fails_with('avg_pool2d: kernel 2x2, stride 0x1, padding 0x0',
      function() return gb._avg_pool2d(x, 2, 2, 0, 1, 0, 0, true) end)
    fails_with('adaptive_avg_pool2d: output size 0x2 must be >= 1',
      function() return gb._adaptive_avg_pool2d(x, 0, 2) end)
    fails_with('batch_norm: argument 2 (3) does not match the 1 channels of (1,1,4,4)',
      function() return gb._batch_norm(x, gb.ones(3), gb.zeros(1), 1e-5) end)
    fails_with('batch_norm: eps must be > 0, got 0',
      function() return gb._batch_norm(x, gb.ones(1), gb.zeros(1), 0) end)
    assert.are.same({ { { { 3.5, 5.5 }, { 11.5, 13.5 } } } }, gb._avg_pool2d(x, 2, 2, 2, 2, 0, 0, true):totable())
    assert.are.same({ { { { 8.5 } } } }, gb._adaptive_avg_pool2d(x, 1, 1):totable())
    assert.are.same({ { { { 54, 63 }, { 90, 99 } } } }, gb._conv2d(x, gb.ones(1, 1, 3, 3), gb.zeros(1), 3, 3, 1, 1, 0, 0):totable())
    local calls = 0
    for i = 1, #ints do
      for j = 1, #ints do
        local k, s, p = ints[i], ints[j], ints[(i + j) % #ints + 1]
        for _, call in ipairs({
          function() return gb._conv2d(x, gb.ones(1, 1, 2, 2), gb.zeros(1), k, k, s, s, p, p) end,
          function() return gb._conv2d(x, gb.ones(1, 1, 1, 1), gb.zeros(1), 1, 1, s, s, p, p) end,
          function() return gb._avg_pool2d(x, k, k, s, s, p, p, false) end,
        }) do
          local ok, out = pcall(call)
          calls = calls + 1
          if ok then assert.is_true(gb.is_tensor(out) and out:numel() <= 2^36) end
        end
      end
    end
    -- output sizes: legal ones up to 2^36 cells would be real (huge) work, so the sweep keeps
    -- them small and the rest hostile
    local sizes = { 0, 1, 2, 3, -1, -2, 2^37, 2^62, math.maxinteger, math.mininteger }
    for _, h in ipairs(sizes) do
      for _, wd in ipairs(sizes) do
        local ok, out = pcall(gb._adaptive_avg_pool2d, x, h, wd)
        calls = calls + 1
        assert.are.equal(h >= 1 and h <= 3 and wd >= 1 and wd <= 3, ok)
        if ok then assert.are.same({ 1, 1, h, wd }, out.shape) end
      end
    end
    for _, v in ipairs(others) do
      assert.is_false(pcall(gb._conv2d, x, w, b, v, 3, 1, 1, 0, 0))
      assert.is_false(pcall(gb._avg_pool2d, x, 2, 2, 2, 2, 0, 0, v ~= true and v or 1))
      assert.is_false(pcall(gb._adaptive_avg_pool2d, x, v, 1))
      assert.is_false(pcall(gb._batch_norm, x, gb.ones(1), gb.zeros(1), type(v) == 'number' and -v or v))
    end
    assert.is_true(calls > 400)
    still_works()
  end)

  it('gb._layer_norm, gb._masked_softmax and gb._sdpa check their arguments', function()
    local x, z = gb.ones(2, 3), gb.zeros
    fails_with('layer_norm: cannot normalize the last 3 dims of (2,3)',
      function() return gb._layer_norm(x, nil, nil, 3, 1e-5) end)
    fails_with('layer_norm: eps must be > 0, got 0', function() return gb._layer_norm(x, nil, nil, 1, 0) end)
    fails_with('layer_norm: argument 2 (2) does not match the normalized dims of (2,3)',
      function() return gb._layer_norm(x, z(2), z(3), 1, 1e-5) end)
    fails_with("bad argument #3 to '_layer_norm' (tensor expected, got no value)",
      function() return gb._layer_norm(x, z(3)) end)
    fails_with('masked_softmax: expected scores (..., L, S), got (3)',
      function() return gb._masked_softmax(z(3), nil, true) end)
    fails_with('masked_softmax: mask (2,2) does not broadcast to the scores (2,3)',
      function() return gb._masked_softmax(x, z(2, 2), false) end)
    fails_with('masked_softmax: argument 2 has dtype int64, expected float32',
      function() return gb._masked_softmax(x, z({ 3 }, { dtype = 'int64' }), false) end)
    local q = z(1, 2, 3, 4)
    fails_with('sdpa: key (1,2,0,4) has no positions to attend to',
      function() return gb._sdpa(q, z(1, 2, 0, 4), z(1, 2, 0, 4), 1, false) end)
    fails_with('sdpa: expected query (B,H,L,E), key (B,H,S,E) and value (B,H,S,Ev), got (1,2,3,4), (2,2,3,4) and (1,2,3,4)',
      function() return gb._sdpa(q, z(2, 2, 3, 4), q, 1, false) end)
    fails_with("bad argument #1 to '_sdpa' (tensor was closed)",
      function() return gb._sdpa(closed(), q, q, 1, false) end)
    -- the mask: broadcast to the scores (B,H,L,S), float32, no gradient wanted
    fails_with('sdpa: mask (2,3) does not broadcast to the scores (B,H,L,S) (1,2,3,3)',
      function() return gb._sdpa(q, q, q, 1, false, z(2, 3)) end)
    fails_with('sdpa: mask (1,1,1,1,3) does not broadcast to the scores (B,H,L,S) (1,2,3,3)',
      function() return gb._sdpa(q, q, q, 1, false, z(1, 1, 1, 1, 3)) end)
    fails_with('sdpa: argument 4 has dtype int64, expected float32',
      function() return gb._sdpa(q, q, q, 1, false, z({ 3 }, { dtype = 'int64' })) end)
    fails_with("bad argument #6 to '_sdpa' (tensor expected, got number)",
      function() return gb._sdpa(q, q, q, 1, false, 3) end)
    fails_with('sdpa: the mask (3,3) requires grad, but the fused row gives it no gradient (detach it, or add it to the scores and use gb._masked_softmax)',
      function() return gb._sdpa(q, q, q, 1, false, z(3, 3):requires_grad_()) end)
    assert.are.same({ 1, 3, 2, 4 }, gb.no_grad(function()
      return gb._sdpa(q, q, q, 1, false, z(3, 3):requires_grad_())
    end).shape)
    assert.are.same({ 1, 3, 2, 4 }, gb._sdpa(q, q, q, 1, true, z(1, 2, 1, 3)).shape)
    -- an empty query set and empty heads are legal
    assert.are.same({ 1, 0, 2, 4 }, gb._sdpa(z(1, 2, 0, 4), q, q, 1, true).shape)
    assert.are.same({ 1, 3, 2, 0 }, gb._sdpa(q, q, z(1, 2, 3, 0), 1, true).shape)
    assert.are.same({ 0, 3 }, gb._layer_norm(z(0, 3), nil, nil, 1, 1e-5).shape)
    -- which dtypes the fused row takes on the cpu; anything but a tensor is an error
    assert.is_true(gb._layer_norm_fused(x))
    assert.is_true(gb._layer_norm_fused(x:double()))
    assert.is_false(gb._layer_norm_fused(z({ 3 }, { dtype = 'int64' })))
    fails_with("bad argument #1 to '_layer_norm_fused' (tensor expected, got number)",
      function() return gb._layer_norm_fused(1) end)
    fails_with("bad argument #1 to '_layer_norm_fused' (tensor was closed)",
      function() return gb._layer_norm_fused(closed()) end)
    -- the cpu's sdpa row takes any number of keys (cuda caps them); anything but a tensor errs
    assert.is_true(gb._sdpa_takes(z(1, 1, 5000, 2)))
    assert.is_true(gb._sdpa_takes(z(3)))
    fails_with("bad argument #1 to '_sdpa_takes' (tensor expected, got no value)",
      function() return gb._sdpa_takes() end)
    fails_with("bad argument #1 to '_sdpa_takes' (tensor was closed)",
      function() return gb._sdpa_takes(closed()) end)
    for _, k in ipairs(ints) do
      local ok = pcall(gb._layer_norm, x, nil, nil, k, 1e-5)
      assert.are.equal(k == 1 or k == 2, ok)
    end
    for _, v in ipairs(others) do
      assert.is_false(pcall(gb._sdpa, q, q, q, 1, v ~= true and v ~= false and v or 'x'))
      assert.is_false(pcall(gb._masked_softmax, x, v, false))
      assert.is_false(pcall(gb._layer_norm, x, nil, nil, 1, type(v) == 'number' and -v or v))
    end
    still_works()
  end)

  it('gb._hook_id and gb._grad_hooks check their tensor', function()
    fails_with("bad argument #1 to '_hook_id' (tensor expected, got number)", function() return gb._hook_id(3) end)
    fails_with("bad argument #1 to '_hook_id' (tensor was closed)", function() return gb._hook_id(closed()) end)
    fails_with('register_hook: the tensor does not require grad', function() return gb._hook_id(gb.ones(2)) end)
    assert.are.equal('table', type(gb._grad_hooks()))
    assert.are.equal('integer', math.type(gb._hook_id(gb.ones(2):requires_grad_())))
  end)

  it('gb._graph_new makes a recording whose methods check their arguments', function()
    local rec = gb._graph_new()
    assert.is_false(pcall(rec.record, rec, 5))
    assert.is_false(pcall(rec.record, 5, function() end))
    still_works()
  end)

  it('gb._sgd_step and gb._adam_step check shapes, contiguity and the step', function()
    local p, g, b = gb.ones(3), gb.ones(3), gb.zeros(3)
    fails_with('sgd_step: argument 2 (4) must be contiguous and shaped like the parameter (3)',
      function() gb._sgd_step(p, gb.ones(4), b, 0.1, 0, 0, 0, false, true) end)
    fails_with('sgd_step: argument 3 (3) must be contiguous and shaped like the parameter (3)',
      function() gb._sgd_step(p, g, gb.zeros(1):expand(3), 0.1, 0.9, 0, 0, false, true) end)
    fails_with('adam_step: step must be >= 1, got 0',
      function() gb._adam_step(p, g, gb.zeros(3), gb.zeros(3), 0.1, 0.9, 0.999, 1e-8, 0, 0, false) end)
    fails_with('adam_step: step must be >= 1',
      function() gb._adam_step(p, g, gb.zeros(3), gb.zeros(3), 0.1, 0.9, 0.999, 1e-8, 0, math.mininteger, false) end)
    fails_with("bad argument #2 to '_sgd_step' (tensor was closed)",
      function() gb._sgd_step(p, closed(), b, 0.1, 0, 0, 0, false, true) end)
    gb._sgd_step(p, g, b, 0.25, 0, 0, 0, false, true)
    assert.are.same({ 0.75, 0.75, 0.75 }, p:totable())
  end)

  it('gb._gather_rows checks its source, row numbers and range; a job is waited once', function()
    local x = gb.arange(1, 13):reshape(4, 3)
    local p = gb.tensor({ 3, 1, 4, 2 }, { dtype = 'int64' })
    fails_with('gather_rows: expected a contiguous cpu tensor', function() return gb._gather_rows(x:t(), p, 1, 2) end)
    fails_with('gather_rows: expected a contiguous cpu tensor', function() return gb._gather_rows(gb.tensor(1), p, 1, 1) end)
    fails_with('gather_rows: expected the row numbers as a contiguous 1-D cpu int64', function() return gb._gather_rows(x, p:float(), 1, 2) end)
    fails_with('gather_rows: expected the row numbers as a contiguous 1-D cpu int64', function() return gb._gather_rows(x, p:view(2, 2), 1, 2) end)
    fails_with("bad argument #1 to '_gather_rows' (tensor was closed)", function() return gb._gather_rows(closed(), p, 1, 1) end)
    fails_with("bad argument #2 to '_gather_rows' (tensor was closed)", function() return gb._gather_rows(x, closed(), 1, 1) end)
    fails_with('gather_rows: row number -1 at position 2', function()
      return gb._gather_rows(x, gb.tensor({ 1, -1 }, { dtype = 'int64' }), 1, 2) end)
    fails_with('gather_rows: row number 0 at position 1', function()
      return gb._gather_rows(x, gb.tensor({ 0 }, { dtype = 'int64' }), 1, 1) end)
    for _, start in ipairs(ints) do
      for _, len in ipairs(ints) do
        local ok, job = pcall(gb._gather_rows, x, p, start, len)
        if ok then -- only ranges inside the row numbers are taken, and then exactly
          assert.is_true(start >= 1 and len >= 0 and start + len - 1 <= 4)
          local b = job:wait()
          assert.are.equal(len, b:size(1))
          for i = 1, len do
            assert.are.equal(p[start + i - 1]:item() * 3, b[i][3]:item())
          end
        end
      end
    end
    for _, v in ipairs(others) do
      assert.is_false(pcall(gb._gather_rows, x, p, v, 1))
      assert.is_false(pcall(gb._gather_rows, x, p, 1, v))
      assert.is_false(pcall(gb._gather_rows, v, p, 1, 1))
      assert.is_false(gb._can_gather_rows(v))
    end
    local job = gb._gather_rows(x, p, 2, 3)
    local wait = getmetatable(job) == false and job.wait
    assert.is_function(wait)
    fails_with("bad argument #1 to 'wait' (gather job expected)", function() return wait(x) end)
    fails_with("bad argument #1 to 'wait' (gather job expected)", function() return wait({}) end)
    assert.are.same({ { 1, 2, 3 }, { 10, 11, 12 }, { 4, 5, 6 } }, wait(job):totable())
    fails_with('gather_rows: this batch was already taken', function() return job:wait() end)
    -- a job dropped unwaited is finished and freed by the collector
    for _ = 1, 50 do gb._gather_rows(x, p, 1, 4) end
    collectgarbage('collect')
    still_works()
  end)
end)
