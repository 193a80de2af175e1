-- fused_attn_spec.lua — the Transformer's fused rows seen from Lua: nn.MultiheadAttention's
-- fused path (no weights or dropout: gb._sdpa, masks included) against its materialised path
-- (which attention_spec.lua checks against PyTorch), with a spy on gb._sdpa and
-- gb._masked_softmax and the bytes the tape keeps showing which path ran,
-- gb.nn.functional.scaled_dot_product_attention against the softmax(q k^T * scale + mask) v it
-- stands for, and nn.LayerNorm / gb.nn.functional.layer_norm against the composed formula;
-- values and gradients.
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

-- calls f() counting the calls of gb._sdpa (and whether each had a mask) and gb._masked_softmax
local function spy(f)
  local sdpa, msm = gb._sdpa, gb._masked_softmax
  local n = { sdpa = 0, masked = 0, softmax = 0 }
  gb._sdpa = function(...)
    n.sdpa = n.sdpa + 1
    if select(6, ...) ~= nil then n.masked = n.masked + 1 end
    return sdpa(...)
  end
  gb._masked_softmax = function(...)
    n.softmax = n.softmax + 1
    return msm(...)
  end
  local ok, r1, r2 = pcall(f)
  gb._sdpa, gb._masked_softmax = sdpa, msm
  if not ok then error(r1, 0) end
  return n, r1, r2
end

describe('nn.MultiheadAttention fused path with masks', function()
  local B, L, S, E, H = 3, 5, 6, 12, 3
  -- each case: a name and the call options (without need_weights), given fresh masks
  local function cases()
    local kp = gb.tensor({ { 0, 0, 0, 0, 0, 1 }, { 0, 0, 1, 1, 0, 0 }, { 0, 0, 0, 0, 0, 0 } })
    local bool_ls = gb.tensor({ { 0, 1, 0, 0, 1, 0 }, { 0, 0, 0, 1, 0, 0 }, { 1, 0, 0, 0, 0, 0 },
      { 0, 0, 0, 0, 0, 1 }, { 0, 1, 1, 0, 0, 0 } }):long()
    local add_ls = gb.randn(L, S)
    add_ls[2][4] = -math.huge
    local per_head = gb.randn(B * H, L, S)
    return {
      { '(L, S) bool attn_mask', { attn_mask = bool_ls } },
      { '(L, S) additive attn_mask, causal', { attn_mask = add_ls, is_causal = true } },
      { '(B*H, L, S) additive attn_mask', { attn_mask = per_head } },
      { 'key_padding_mask', { key_padding_mask = kp } },
      { 'key_padding_mask, causal', { key_padding_mask = kp:int(), is_causal = true } },
      { 'both masks', { attn_mask = add_ls, key_padding_mask = kp } },
      { '(B*H, L, S) and key padding', { attn_mask = per_head, key_padding_mask = kp } },
    }
  end

  for _, bf in ipairs({ true, false }) do
    it('equals the materialised path, values and gradients, batch_first=' .. tostring(bf), function()
      gb.manual_seed(11)
      local m = nn.MultiheadAttention(E, H, { batch_first = bf })
      local x = bf and gb.randn(B, S, E) or gb.randn(S, B, E)
      local xq = bf and gb.randn(B, L, E) or gb.randn(L, B, E)
      local w = bf and gb.randn(B, L, E) or gb.randn(L, B, E)
      for _, c in ipairs(cases()) do
        local name, opts = c[1], c[2]
        local function grads_of(need)
          m:zero_grad()
          opts.need_weights = need
          local calls, y, g
          calls = spy(function()
            y, g = run(function(a, b) return (m(a, b, b, opts)) end, { xq, x }, w)
          end)
          local pg = {}
          for _, np in ipairs(m:named_parameters()) do pg[np[1]] = np[2].grad:clone() end
          return y, g, pg, calls
        end
        local yf, gf, pf, cf = grads_of(false)
        local ym, gm, pm, cm = grads_of(true)
        assert.are.same({ sdpa = 1, masked = 1, softmax = 0 }, cf, name .. ': fused calls')
        assert.are.same({ sdpa = 0, masked = 0, softmax = 1 }, cm, name .. ': materialised calls')
        assert_close(name .. ' output', yf, ym)
        assert_close(name .. ' grad query', gf[1], gm[1])
        assert_close(name .. ' grad key/value', gf[2], gm[2])
        for pname, g in pairs(pm) do assert_close(name .. ' grad ' .. pname, pf[pname], g) end
      end
    end)
  end

  it('keeps no (B, heads, L, S) tensor for backward', function()
    gb.manual_seed(12)
    local b, l, h = 2, 160, 4
    local m = nn.MultiheadAttention(16, h, { batch_first = true })
    local x = gb.randn(b, l, 16)
    local kp = gb.zeros(b, l)
    kp[1][l] = 1
    local scores = b * h * l * l * 4 -- bytes of one float32 (B, heads, L, S) tensor
    local function kept(need)
      collectgarbage('collect')
      local base = gb.memory_stats().allocated
      local y = m(x, x, x, { key_padding_mask = kp, attn_mask = nn.MultiheadAttention.causal_mask(l),
        need_weights = need })
      collectgarbage('collect')
      local bytes = gb.memory_stats().allocated - base
      y = nil -- luacheck: ignore
      collectgarbage('collect')
      return bytes
    end
    local fused, materialised = kept(false), kept(true)
    assert.is_true(fused < scores / 2, ('fused path keeps %d bytes, scores %d'):format(fused, scores))
    assert.is_true(materialised >= scores,
      ('materialised path keeps %d bytes, scores %d'):format(materialised, scores))
  end)

  it('differentiates an attn_mask that requires grad on the materialised path', function()
    gb.manual_seed(13)
    local m = nn.MultiheadAttention(8, 2, { batch_first = true })
    local x, w = gb.randn(2, 4, 8), gb.randn(2, 4, 8)
    local base = gb.randn(4, 4)
    local function mask_grad(need)
      local mask = base:clone():requires_grad_()
      mask:detach()[1][1] = -1 -- a negative entry: added as it is
      local calls, y
      calls = spy(function() y = m(x, x, x, { attn_mask = mask, need_weights = need }) end)
      ;(y * w):sum():backward()
      return mask.grad, calls, y
    end
    local gf, cf, yf = mask_grad(false)
    local gm, _, ym = mask_grad(true)
    assert.are.same({ sdpa = 0, masked = 0, softmax = 1 }, cf)
    assert_close('output', yf, ym)
    assert_close('mask gradient', gf, gm)
    assert.is_true(gf:abs():sum():item() > 0)
    -- under no_grad there is no gradient to give: the fused row takes the mask
    local calls = spy(function()
      gb.no_grad(function() m(x, x, x, { attn_mask = base:clone():requires_grad_(), need_weights = false }) end)
    end)
    assert.are.same({ sdpa = 1, masked = 1, softmax = 0 }, calls)
  end)

  it('materialises the scores where the device\'s row does not take the keys', function()
    gb.manual_seed(15)
    local m = nn.MultiheadAttention(8, 2, { batch_first = true })
    local x, kp = gb.randn(2, 4, 8), gb.tensor({ { 0, 0, 0, 1 }, { 0, 1, 0, 0 } })
    local function call() return m(x, x, x, { key_padding_mask = kp, need_weights = false }) end
    local cf, yf = spy(call)
    local takes = gb._sdpa_takes
    local asked
    gb._sdpa_takes = function(k) asked = k:size(3); return false end -- as cuda past its cap
    local ok, cm, ym = pcall(spy, call)
    gb._sdpa_takes = takes
    assert(ok, cm)
    assert.are.equal(4, asked, 'asked with the keys (B, heads, S, d)')
    assert.are.same({ sdpa = 1, masked = 1, softmax = 0 }, cf)
    assert.are.same({ sdpa = 0, masked = 0, softmax = 1 }, cm)
    assert_close('output', yf, ym)
  end)

  it('gives NaN for a query whose every key is masked, as the materialised path', function()
    gb.manual_seed(14)
    local m = nn.MultiheadAttention(8, 2, { batch_first = true })
    local x = gb.randn(2, 3, 8)
    local kp = gb.tensor({ { 1, 1, 1 }, { 0, 0, 1 } })
    local yf = m(x, x, x, { key_padding_mask = kp, need_weights = false })
    local ym = m(x, x, x, { key_padding_mask = kp })
    for _, y in ipairs({ yf, ym }) do
      assert.are.equal(y[1]:numel(), y[1]:ne(y[1]):sum():item(), 'batch 1 is all NaN')
      assert.are.equal(0, y[2]:ne(y[2]):sum():item(), 'batch 2 has no NaN')
    end
    assert_close('batch 2', yf[2], ym[2])
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

  it('takes every broadcastable mask form on the fused row, values and gradients', function()
    gb.manual_seed(15)
    local q, k, v = gb.randn(2, 3, 5, 4), gb.randn(2, 3, 6, 4), gb.randn(2, 3, 6, 2)
    local hide = gb.zeros(2, 1, 1, 6)
    hide[1][1][1][6], hide[2][1][1][1] = -math.huge, -math.huge
    local forms = {
      { '(L, S)', gb.randn(5, 6) }, { '(B, H, L, S)', gb.randn(2, 3, 5, 6) },
      { '(B, 1, 1, S)', hide }, { '(H, L, S)', gb.randn(3, 5, 6) }, { '(S)', gb.randn(6) },
      { '(L, S) transposed', gb.randn(6, 5):t() }, { '(1, H, 1, S)', gb.randn(1, 3, 1, 6) },
    }
    for _, f in ipairs(forms) do
      for _, causal in ipairs({ false, true }) do
        local name = f[1] .. (causal and ', causal' or '')
        local calls, out, g, w
        calls = spy(function()
          out, g, w = run(function(a, b, c)
            return F.scaled_dot_product_attention(a, b, c, { attn_mask = f[2], is_causal = causal })
          end, { q, k, v })
        end)
        assert.are.same({ sdpa = 1, masked = 1, softmax = 0 }, calls, name)
        local ref, rg = run(function(a, b, c) return reference(a, b, c, f[2], causal, 0.5) end,
          { q, k, v }, w)
        assert_close(name .. ' output', out, ref)
        for i = 1, 3 do assert_close(name .. ' grad ' .. i, g[i], rg[i]) end
      end
    end
    -- 3-D inputs with an (N, L, S) mask, and a mask that requires grad (materialised: it gets
    -- the gradient of the scores summed to its shape)
    local a, b, c, m3 = gb.randn(4, 5, 3), gb.randn(4, 6, 3), gb.randn(4, 6, 2), gb.randn(4, 5, 6)
    assert_close('3-D with (N, L, S) mask', F.scaled_dot_product_attention(a, b, c, { attn_mask = m3 }),
      reference(a, b, c, m3, false, 1 / math.sqrt(3)))
    local mg = gb.randn(5, 6):requires_grad_()
    local calls = spy(function()
      F.scaled_dot_product_attention(q, k, v, { attn_mask = mg }):sum():backward()
    end)
    assert.are.same({ sdpa = 0, masked = 0, softmax = 1 }, calls)
    local mr = mg:detach():clone():requires_grad_()
    reference(q, k, v, mr, false, 0.5):sum():backward()
    assert_close('mask gradient', mg.grad, mr.grad)
  end)

  it('materialises the scores where the device\'s row does not take the keys', function()
    gb.manual_seed(22)
    local q, k, v, m = gb.randn(2, 2, 3, 4), gb.randn(2, 2, 5, 4), gb.randn(2, 2, 5, 3), gb.randn(3, 5)
    local function call() return F.scaled_dot_product_attention(q, k, v, { attn_mask = m }) end
    local cf, yf = spy(call)
    local takes = gb._sdpa_takes
    gb._sdpa_takes = function() return false end -- as cuda past its cap
    local ok, cm, ym = pcall(spy, call)
    gb._sdpa_takes = takes
    assert(ok, cm)
    assert.are.same({ sdpa = 1, masked = 1, softmax = 0 }, cf)
    assert.are.same({ sdpa = 0, masked = 0, softmax = 1 }, cm)
    assert_close('output', yf, ym)
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
