-- fused_attn_spec.lua — the Transformer's fused rows seen from Lua: nn.MultiheadAttention's
-- fused path (no weights, masks or dropout: gb._sdpa) against its materialised path (which
-- attention_spec.lua checks against PyTorch), gb.nn.functional.scaled_dot_product_attention
-- against the softmax(q k^T * scale) v it stands for, masks included, and nn.LayerNorm /
-- gb.nn.functional.layer_norm against the composed formula; values and gradients.
-- Run: build/gpubp /usr/bin/busted tests/lua/fused_attn_spec.lua

local gb = require('gpubp')
local nn = gb.nn
local F = gb.nn.functional
local support = dofile('tests/lua/support.lua')
local assert_close = support.assert_close_1e4

-- runs f on fresh leaf clones of xs; returns the output and the inputs' gradients for the
-- loss sum(out * w)
local function run(f, xs, w)
  local leaves = {}
  for i, x in ipairs(xs) do leaves[i] = x:clone():requires_grad_() end
  local out = f(table.unpack(leaves))
  w = w or gb.randn(table.unpack(out.shape))
  ;(out * w):sum():backward()
  local grads = {}
  for i, l in ipairs(leaves) do grads[i] = l.grad end
  return out, grads, w
end

describe('nn.MultiheadAttention fused path', function()
  for _, bf in ipairs({ true, false }) do
    it('equals the materialised path with is_causal, batch_first=' .. tostring(bf), function()
      gb.manual_seed(3)
      local m = nn.MultiheadAttention(12, 3, { batch_first = bf })
      local x = gb.randn(2, 5, 12)
      local function grads_of(need)
        m:zero_grad()
        local y = run(function(t) return (m(t, t, t, { is_causal = true, need_weights = need })) end,
          { x }, gb.ones(2, 5, 12))
        local g = {}
        for _, np in ipairs(m:named_parameters()) do g[np[1]] = np[2].grad:clone() end
        return y, g
      end
      local yf, gf = grads_of(false)
      local ym, gm = grads_of(true)
      assert_close('output', yf, ym)
      for name, g in pairs(gm) do assert_close('grad ' .. name, gf[name], g) end
    end)
  end

  it('is used only without weights, masks and dropout, and agrees for cross-attention', function()
    gb.manual_seed(4)
    local m = nn.MultiheadAttention(8, 2, { batch_first = true })
    local q, kv = gb.randn(3, 4, 8), gb.randn(3, 6, 8)
    local a = m(q, kv, kv, { need_weights = false })
    local b = m(q, kv, kv)
    assert_close('cross output', a, b)
  end)
end)

describe('gb.nn.functional.scaled_dot_product_attention', function()
  local function reference(q, k, v, mask, causal, scale)
    local s = q:matmul(k:transpose(-2, -1)) * scale
    if mask then s = s + mask end
    if causal then
      local L, S = q:size(-2), k:size(-2)
      s = s + nn.MultiheadAttention.causal_mask(L, S)
    end
    return s:softmax(-1):matmul(v)
  end

  it('matches softmax(q k^T / sqrt(E)) v with its gradients, causal or not', function()
    gb.manual_seed(5)
    local q, k, v = gb.randn(2, 3, 7, 4), gb.randn(2, 3, 9, 4), gb.randn(2, 3, 9, 5)
    for _, causal in ipairs({ false, true }) do
      local out, g, w = run(function(a, b, c)
        return F.scaled_dot_product_attention(a, b, c, { is_causal = causal })
      end, { q, k, v })
      local ref, rg = run(function(a, b, c) return reference(a, b, c, nil, causal, 0.5) end,
        { q, k, v }, w)
      assert.are.same({ 2, 3, 7, 5 }, out.shape)
      assert_close('output', out, ref)
      for i = 1, 3 do assert_close('grad ' .. i, g[i], rg[i]) end
    end
  end)

  it('takes strided views (heads of one projection), 3-D inputs and a scale', function()
    gb.manual_seed(6)
    local qkv = gb.randn(2, 6, 3, 2, 4) -- (B, L, 3, H, d) as MultiheadAttention makes it
    local q, k, v = qkv:select(3, 1):permute(1, 3, 2, 4), qkv:select(3, 2):permute(1, 3, 2, 4),
      qkv:select(3, 3):permute(1, 3, 2, 4)
    local out = F.scaled_dot_product_attention(q, k, v, { is_causal = true, scale = 0.3 })
    assert_close('strided', out, reference(q, k, v, nil, true, 0.3))
    local a, b, c = gb.randn(4, 5, 3), gb.randn(4, 6, 3), gb.randn(4, 6, 2)
    local out3 = F.scaled_dot_product_attention(a, b, c)
    assert.are.same({ 4, 5, 2 }, out3.shape)
    assert_close('3-D', out3, reference(a, b, c, nil, false, 1 / math.sqrt(3)))
  end)

  it('applies a float mask additively and an int mask as 1 = may attend', function()
    gb.manual_seed(7)
    local q, k, v = gb.randn(1, 2, 4, 3), gb.randn(1, 2, 4, 3), gb.randn(1, 2, 4, 3)
    local fm = gb.randn(4, 4)
    local out, g, w = run(function(a, b, c)
      return F.scaled_dot_product_attention(a, b, c, { attn_mask = fm, is_causal = true })
    end, { q, k, v })
    local ref, rg = run(function(a, b, c) return reference(a, b, c, fm, true, 1 / math.sqrt(3)) end,
      { q, k, v }, w)
    assert_close('float mask', out, ref)
    for i = 1, 3 do assert_close('grad ' .. i, g[i], rg[i]) end
    local keep = gb.tensor({ 1, 1, 0, 1 }, { dtype = 'int32' }):view(1, 4) -- key 3 is hidden
    local add = gb.tensor({ 0, 0, -math.huge, 0 }):view(1, 4)
    assert_close('int mask', F.scaled_dot_product_attention(q, k, v, { attn_mask = keep }),
      reference(q, k, v, add, false, 1 / math.sqrt(3)))
  end)

  it('raises clear errors', function()
    local q = gb.randn(1, 2, 3, 4)
    assert.has_error(function() F.scaled_dot_product_attention(q, q, q, { causal = true }) end,
      "scaled_dot_product_attention: unknown option 'causal'")
    assert.has_error(function() F.scaled_dot_product_attention(gb.randn(3, 4), q, q) end,
      'scaled_dot_product_attention: argument 1: expected a 3-D (N, L, E) or 4-D (B, H, L, E) tensor, got (3, 4)')
    assert.has_error(function() F.scaled_dot_product_attention(q, gb.randn(1, 2, 3, 5), q) end,
      'sdpa: expected query (B,H,L,E), key (B,H,S,E) and value (B,H,S,Ev), got (1,2,3,4), (1,2,3,5) and (1,2,3,4)')
    assert.has_error(function() F.scaled_dot_product_attention(q, q, q, { dropout_p = 2 }) end,
      'scaled_dot_product_attention: dropout_p must be a probability in [0, 1], got 2')
  end)
end)

describe('layer norm as one row', function()
  local function composed(x, w, b, k, eps)
    local rows = {}
    for i = 1, x:dim() - k do rows[i] = x:size(i) end
    rows[#rows + 1] = -1
    local f = x:reshape(rows)
    local c = f - f:mean(-1, true)
    local y = (c / ((c * c):mean(-1, true) + eps):sqrt()):reshape(x.shape)
    if w then y = y * w + b end
    return y
  end

  it('nn.LayerNorm equals the composed formula, values and gradients', function()
    gb.manual_seed(8)
    local ln = nn.LayerNorm({ 3, 4 })
    gb.no_grad(function()
      ln.weight:copy_(gb.randn(3, 4))
      ln.bias:copy_(gb.randn(3, 4))
    end)
    local x = gb.randn(5, 3, 4) * 3 + 1
    local out, g, w = run(function(t) return ln(t) end, { x })
    local wg, bg = ln.weight.grad:clone(), ln.bias.grad:clone()
    local ref, rg = run(function(t, a, b) return composed(t, a, b, 2, 1e-5) end,
      { x, ln.weight:detach(), ln.bias:detach() }, w)
    assert_close('output', out, ref)
    assert_close('grad x', g[1], rg[1])
    assert_close('grad weight', wg, rg[2])
    assert_close('grad bias', bg, rg[3])
  end)

  it('gb.nn.functional.layer_norm with and without the affine; errors', function()
    gb.manual_seed(9)
    local x = gb.randn(4, 6)
    assert_close('plain', F.layer_norm(x, 6), composed(x, nil, nil, 1, 1e-5))
    local w, b = gb.randn(6), gb.randn(6)
    assert_close('affine', F.layer_norm(x, { 6 }, w, b, 1e-3), composed(x, w, b, 1, 1e-3))
    assert.has_error(function() F.layer_norm(x, 5) end,
      'layer_norm: expected input ending in (5), got (4, 6)')
    assert.has_error(function() F.layer_norm(x, 6, w) end,
      'layer_norm: give both weight and bias, or neither')
    assert.is_true(gb.autograd.gradcheck(function(t) return F.layer_norm(t, 6) end,
      { gb.randn(3, 6):requires_grad_() }, { eps = 1e-2, atol = 1e-2, rtol = 1e-2 }))
  end)
end)
