-- attention_spec.lua — nn.MultiheadAttention against PyTorch 1.13: seeded random weights,
-- inputs, masks, outputs, attention weights and every gradient written by PyTorch
-- (tests/fixtures/attention/make_attention.py, PyTorch's parameter names), loaded with
-- load_state_dict. Also batched matmul over 4-D strided views (what the heads run on), the
-- causal helper, the mask conventions and the errors.
-- Run: build/gpubp /usr/bin/busted tests/lua/attention_spec.lua

local gb = require('gpubp')
local nn = gb.nn

local DIR = 'tests/fixtures/attention/'
local support = dofile('tests/lua/support.lua')
local assert_close = support.assert_close_1e4
local function load_case(name) return support.load_torch_case(DIR, name) end

-- masks: a function of the stored 0/1 (or additive) masks giving what this run passes
local function check_case(name, masks)
  local params, inputs, outs, grads, meta = load_case(name)
  local m = nn.MultiheadAttention(tonumber(meta.embed_dim), tonumber(meta.num_heads), {
    batch_first = meta.batch_first == '1', bias = meta.bias == '1',
  })
  m:load_state_dict(params)
  local q = inputs.query:clone():requires_grad_()
  local k, v = q, q
  if meta.self_attn ~= '1' then
    k, v = inputs.key:clone():requires_grad_(), inputs.value:clone():requires_grad_()
  end
  local opts = masks(inputs)
  opts.average_attn_weights = meta.average == '1'
  local out, w = m(q, k, v, opts)
  assert_close(name .. ' output', out, outs.output)
  assert_close(name .. ' weights', w, outs.weights)
  local loss = (out * inputs.w_out):sum() + (w * inputs.w_weights):sum()
  loss:backward()
  for _, np in ipairs(m:named_parameters()) do
    assert(grads[np[1]], name .. ': no recorded gradient for ' .. np[1])
    assert_close(name .. ' grad ' .. np[1], np[2].grad, grads[np[1]])
  end
  assert_close(name .. ' grad query', q.grad, grads.query)
  if meta.self_attn ~= '1' then
    assert_close(name .. ' grad key', k.grad, grads.key)
    assert_close(name .. ' grad value', v.grad, grads.value)
  end
end

describe('nn.MultiheadAttention against PyTorch', function()
  it('self-attention with a causal bool mask and key padding, (L, B, E)', function()
    check_case('self_causal_padding', function(i)
      return { attn_mask = i.attn_mask:long(), key_padding_mask = i.key_padding_mask }
    end)
  end)
  it('the same through is_causal and an int key padding mask', function()
    check_case('self_causal_padding', function(i)
      return { is_causal = true, key_padding_mask = i.key_padding_mask:int() }
    end)
  end)
  it('cross-attention, batch_first, an additive float mask, per-head weights', function()
    check_case('cross_additive_batch_first', function(i) return { attn_mask = i.attn_mask } end)
  end)
  it('self-attention without bias, batch_first, key padding', function()
    check_case('self_nobias_padding_batch_first', function(i)
      return { key_padding_mask = i.key_padding_mask }
    end)
  end)
end)

-- the same recorded cases without the weights: the fused row (gb._sdpa) with the masks in it
-- must give PyTorch's output (the recorded gradients include the weights' term, so only the
-- output is compared here; fused_attn_spec.lua compares gradients with the materialised path)
local function check_fused_output(name, masks)
  local params, inputs, outs, _, meta = load_case(name)
  local m = nn.MultiheadAttention(tonumber(meta.embed_dim), tonumber(meta.num_heads), {
    batch_first = meta.batch_first == '1', bias = meta.bias == '1',
  })
  m:load_state_dict(params)
  local q = inputs.query
  local k, v = q, q
  if meta.self_attn ~= '1' then k, v = inputs.key, inputs.value end
  local opts = masks(inputs)
  opts.need_weights = false
  local out, w = m(q, k, v, opts)
  assert.is_nil(w)
  assert_close(name .. ' fused output', out, outs.output)
end

describe('nn.MultiheadAttention against PyTorch', function()
  it('gives the recorded outputs on the fused path (need_weights=false), masks included', function()
    check_fused_output('self_causal_padding', function(i)
      return { attn_mask = i.attn_mask:long(), key_padding_mask = i.key_padding_mask }
    end)
    check_fused_output('self_causal_padding', function(i)
      return { is_causal = true, key_padding_mask = i.key_padding_mask:int() }
    end)
    check_fused_output('cross_additive_batch_first', function(i) return { attn_mask = i.attn_mask } end)
    check_fused_output('self_nobias_padding_batch_first', function(i)
      return { key_padding_mask = i.key_padding_mask }
    end)
  end)
end)

describe('nn.MultiheadAttention', function()
  it('has PyTorch parameter names and init', function()
    gb.manual_seed(4)
    local m = nn.MultiheadAttention(16, 4)
    local names = {}
    for _, np in ipairs(m:named_parameters()) do names[#names + 1] = np[1] end
    assert.are.same({ 'in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias' }, names)
    assert.are.same({ 48, 16 }, m.in_proj_weight.shape)
    assert.are.equal(0, m.in_proj_bias:abs():sum():item())
    local bound = math.sqrt(6 / (16 + 48)) -- xavier_uniform over (3E, E)
    assert.is_true(m.in_proj_weight:abs():max():item() <= bound)
    assert.is_true(m.in_proj_weight:abs():max():item() > 0.9 * bound)
  end)

  it('runs an unbatched (L, E) input as a batch of one, and mha(x) as self-attention', function()
    gb.manual_seed(6)
    local m = nn.MultiheadAttention(8, 2)
    local x = gb.randn(5, 8)
    local y, w = m(x, x, x)
    assert.are.same({ 5, 8 }, y.shape)
    assert.are.same({ 5, 5 }, w.shape)
    local yb = m(x:unsqueeze(2), x:unsqueeze(2), x:unsqueeze(2))
    assert_close('unbatched', y, yb:squeeze(2))
    local y1 = m(x)
    assert_close('mha(x)', y1, y)
    local _, none = m(x, x, x, { need_weights = false })
    assert.is_nil(none)
  end)

  it('causal attention ignores the future: changing a later step leaves earlier outputs', function()
    gb.manual_seed(7)
    local m = nn.MultiheadAttention(8, 2, { batch_first = true })
    local x = gb.randn(2, 6, 8)
    local y = m(x, x, x, { is_causal = true })
    local x2 = x:clone()
    x2:narrow(2, 5, 2):copy_(gb.randn(2, 2, 8))
    local y2 = m(x2, x2, x2, { is_causal = true })
    assert_close('prefix', y2:narrow(2, 1, 4), y:narrow(2, 1, 4))
    assert.is_true((y2:narrow(2, 5, 2) - y:narrow(2, 5, 2)):abs():max():item() > 1e-3)
  end)

  it('causal_mask is 0 on and below the diagonal and -inf above', function()
    local c = nn.MultiheadAttention.causal_mask(3, 4)
    assert.are.same({ { 0, -math.huge, -math.huge, -math.huge }, { 0, 0, -math.huge, -math.huge },
      { 0, 0, 0, -math.huge } }, c:totable())
  end)

  it('drops attention weights in training mode only', function()
    gb.manual_seed(8)
    local m = nn.MultiheadAttention(8, 2, { dropout = 0.5 })
    local x = gb.randn(4, 2, 8)
    m:eval()
    local a = m(x)
    m:train()
    local b = m(x)
    assert.is_true((a - b):abs():max():item() > 1e-4)
  end)

  it('raises clear errors', function()
    assert.has_error(function() nn.MultiheadAttention(10, 3) end,
      'MultiheadAttention: embed_dim (10) must be divisible by num_heads (3)')
    local m = nn.MultiheadAttention(8, 2)
    assert.has_error(function() m(gb.zeros(5, 2, 6)) end,
      'MultiheadAttention: expected query of shape (L, B, 8) or (L, 8), got (5, 2, 6)')
    assert.has_error(function() m(gb.zeros(5, 2, 8), nil, nil, { attn_mask = gb.zeros(4, 5) }) end,
      'MultiheadAttention: expected attn_mask of shape (5, 5) or (4, 5, 5), got (4, 5)')
    assert.has_error(function() m(gb.zeros(5, 2, 8), nil, nil, { key_padding_mask = gb.zeros(5, 2) }) end,
      'MultiheadAttention: expected key_padding_mask of shape (2, 5), got (5, 2)')
    assert.has_error(function() m(gb.zeros(5, 2, 8), gb.zeros(4, 3, 8), gb.zeros(4, 3, 8)) end,
      'MultiheadAttention: query (5, 2, 8), key (4, 3, 8) and value (4, 3, 8) do not agree in batch and length')
    assert.has_error(function() m(gb.zeros(5, 2, 8), nil, nil, { causal = true }) end,
      "MultiheadAttention: unknown option 'causal'")
  end)
end)

describe('matmul over 4-D strided views', function()
  it('matches per-matrix products and has the tape gradient', function()
    gb.manual_seed(9)
    local a = gb.randn(3, 5, 2, 4):permute(1, 3, 2, 4) -- (3, 2, 5, 4), strided batch
    local b = gb.randn(3, 2, 6, 4):transpose(3, 4)     -- (3, 2, 4, 6), transposed matrices
    local c = a:matmul(b)
    assert.are.same({ 3, 2, 5, 6 }, c.shape)
    for i = 1, 3 do
      for j = 1, 2 do assert_close('item', c[i][j], a[i][j]:matmul(b[i][j])) end
    end
    local f = function(x, y) return x:matmul(y) end
    local tol = { eps = 1e-2, atol = 1e-2, rtol = 1e-2 }
    assert.is_true(gb.autograd.gradcheck(f, { gb.randn(2, 3, 4, 5):requires_grad_(),
      gb.randn(2, 3, 5, 2):requires_grad_() }, tol))
    assert.is_true(gb.autograd.gradcheck(f, { gb.randn(2, 3, 4, 5):requires_grad_(),
      gb.randn(5, 2):requires_grad_() }, tol))
    assert.has_error(function() gb.randn(2, 3, 4, 5):matmul(gb.randn(3, 3, 5, 2)) end,
      'matmul: (2,3,4,5) x (3,3,5,2): expected (M,K)x(K,N), (B,M,K)x(K,N) or (B,M,K)x(B,K,N) (more batch dims alike)')
  end)
end)
