-- nn/MultiheadAttention.lua — multi-head scaled dot-product attention as PyTorch's
-- nn.MultiheadAttention: in_proj_weight (3E, E), in_proj_bias (3E), out_proj (Linear E -> E),
-- so PyTorch weights load as they are. Heads are views of the projections (no per-head copies):
-- the products run as batched matmuls over (B, heads) with the operands' own strides.
-- Without attention weights or dropout, in float32, the attention is one fused row (gb._sdpa):
-- the scores exist only as per-thread tiles and the context comes out heads-last (B, L, heads,
-- d), a view for out_proj with batch_first. The masks go into that row too, as one additive
-- float mask broadcast over (B, heads, L, S) and read in place: attn_mask (L, S) or (B*heads, L,
-- S) viewed (B, heads, L, S), key_padding_mask viewed (B, 1, 1, S), or their sum ((B, 1, L, S)
-- for an (L, S) attn_mask); is_causal stays the row's flag. Otherwise (need_weights, dropout in
-- training, float64, an attn_mask that requires grad, which the fused row would not
-- differentiate, or more keys than the device's row takes: gb._sdpa_takes) the scores and probabilities (B, heads, L, S) are materialised and the masks
-- are applied by the softmax row as it reads the scores (gb._masked_softmax). Either way a
-- query row with every key masked gives NaN, as PyTorch's.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local Parameter = require('gpubp.nn.Parameter')
local Linear = require('gpubp.nn.Linear')
local init = require('gpubp.nn.init_fns')
local gb = require('gpubp.class').gb

local MHA = Module:extend('MultiheadAttention')
local NAME = 'MultiheadAttention'

local SPEC = { dropout = 0, bias = true, batch_first = false, device = options.optional }
local CALL = {
  key_padding_mask = options.opt(nil, 'tensor'), need_weights = true,
  attn_mask = options.opt(nil, 'tensor'), average_attn_weights = true, is_causal = false,
}

local function shape_str(t) return '(' .. table.concat(t.shape, ', ') .. ')' end

-- MultiheadAttention(embed_dim, num_heads, {dropout=0, bias=true, batch_first=false, device=})
function MHA:init(embed_dim, num_heads, opts)
  embed_dim = options.positive_int(NAME, 'embed_dim', embed_dim)
  num_heads = options.positive_int(NAME, 'num_heads', num_heads)
  opts = options.check(NAME, opts, SPEC)
  if embed_dim % num_heads ~= 0 then
    errors.raisef('%s: embed_dim (%d) must be divisible by num_heads (%d)', NAME, embed_dim, num_heads)
  end
  if opts.dropout < 0 or opts.dropout > 1 then
    errors.raisef('%s: dropout must be a probability in [0, 1], got %s', NAME, tostring(opts.dropout))
  end
  self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
  self.dropout, self.batch_first, self.bias = opts.dropout, opts.batch_first == true, opts.bias ~= false
  local topts = { device = opts.device }
  self.in_proj_weight = Parameter(gb.empty({ 3 * embed_dim, embed_dim }, topts))
  if self.bias then self.in_proj_bias = Parameter(gb.empty({ 3 * embed_dim }, topts)) end
  self.out_proj = Linear(embed_dim, embed_dim, { bias = self.bias, device = opts.device })
  self:reset_parameters()
end

-- PyTorch's init: xavier_uniform_ in_proj_weight, zero biases, out_proj.weight as Linear's.
function MHA:reset_parameters()
  init.xavier_uniform_(self.in_proj_weight)
  if self.bias then
    init.zeros_(self.in_proj_bias)
    self.out_proj:reset_parameters()
    init.zeros_(self.out_proj.bias)
  else
    self.out_proj:reset_parameters()
  end
end

-- An additive (L, S) mask: 0 on and below the diagonal, -inf above (step i sees 1..i).
function MHA.causal_mask(L, S, opts)
  L = options.positive_int('causal_mask', 'L', L)
  S = S or L
  S = options.positive_int('causal_mask', 'S', S)
  opts = options.check('causal_mask', opts, { device = options.optional })
  local i = gb.arange(1, L + 1, { device = opts.device }):view(L, 1)
  local j = gb.arange(1, S + 1, { device = opts.device }):view(1, S)
  return gb.where(j:gt(i), gb.full({ 1 }, -math.huge, { device = opts.device }),
    gb.zeros(1, { device = opts.device }))
end

-- A mask as an additive float tensor: int masks and float masks without a negative entry are
-- boolean (nonzero: not allowed -> -inf); a float mask with a negative entry is added as is.
local function additive(m)
  if m.dtype ~= 'float32' and m.dtype ~= 'float64' then m = m:ne(0) elseif m:min():item() < 0 then return m else m = m:ne(0) end
  return gb.where(m, gb.full({ 1 }, -math.huge, { device = m.device }), gb.zeros(1, { device = m.device }))
end

-- The call's attn_mask and key_padding_mask (checked) as one additive float mask that
-- broadcasts to the scores (B, heads, L, S), or nil: (L, S), (B, heads, L, S), (B, 1, 1, S) or,
-- both given, their sum
function MHA:_mask(opts, L, S, B, batched)
  local H, mask = self.num_heads, nil
  if opts.attn_mask ~= nil then
    local m = opts.attn_mask
    if m:dim() == 2 and m:size(1) == L and m:size(2) == S then
      mask = additive(m)
    elseif m:dim() == 3 and m:size(1) == B * H and m:size(2) == L and m:size(3) == S then
      mask = additive(m):view(B, H, L, S)
    else
      errors.raisef('%s: expected attn_mask of shape (%d, %d) or (%d, %d, %d), got %s', NAME, L, S,
        B * H, L, S, shape_str(m))
    end
  end
  if opts.key_padding_mask ~= nil then
    local m = opts.key_padding_mask
    local ok = batched and m:dim() == 2 and m:size(1) == B and m:size(2) == S
      or not batched and m:dim() == 1 and m:size(1) == S
    if not ok then
      errors.raisef('%s: expected key_padding_mask of shape %s, got %s', NAME,
        batched and ('(' .. B .. ', ' .. S .. ')') or ('(' .. S .. ')'), shape_str(m))
    end
    local kp = additive(m):view(B, 1, 1, S)
    mask = mask and mask + kp or kp
  end
  return mask
end

-- x as given ((L, B, E), or (B, L, E) with batch_first), 2-D unbatched made a batch of one;
-- returns it, its (length, batch) and the batched flag
function MHA:_layout(x, what)
  if not gb.is_tensor(x) or (x:dim() ~= 2 and x:dim() ~= 3) or x:size(-1) ~= self.embed_dim then
    errors.raisef('%s: expected %s of shape (L, B, %d)%s or (L, %d), got %s', NAME, what,
      self.embed_dim, self.batch_first and ' (batch_first: (B, L, E))' or '',
      self.embed_dim, gb.is_tensor(x) and shape_str(x) or type(x))
  end
  local batched = x:dim() == 3
  if not batched then x = x:unsqueeze(self.batch_first and 1 or 2) end
  if self.batch_first then return x, x:size(2), x:size(1), batched end
  return x, x:size(1), x:size(2), batched
end

-- rows (*, E) of x @ rows [first, first + n) of the input projection (scaled) -> (d1, d2, n)
local function project(x, w, b)
  local flat = x:reshape(x:size(1) * x:size(2), x:size(3))
  local y = b and gb.addmm(b, flat, w:t()) or flat:matmul(w:t())
  return y:view(x:size(1), x:size(2), w:size(1))
end

-- (d1, d2, E) projections in the module's layout -> (B, heads, T, d) view; `which` picks
-- part which (1..3) of a (d1, d2, 3E) self-attention projection
function MHA:_heads(t, which)
  local v
  if which then
    v = t:view(t:size(1), t:size(2), 3, self.num_heads, self.head_dim):select(3, which)
  else
    v = t:view(t:size(1), t:size(2), self.num_heads, self.head_dim)
  end
  if self.batch_first then return v:permute(1, 3, 2, 4) end
  return v:permute(2, 3, 1, 4)
end

-- The input projection's weight and bias with the query rows scaled by 1/sqrt(d) (a product
-- on the (3E, E) weight, cheaper than scaling q or the scores).
function MHA:_scaled_in_proj(device)
  local E = self.embed_dim
  local sc = rawget(self, '_qkv_scale')
  if not sc or sc.device ~= device then
    sc = gb.ones(3 * E, 1, { device = device })
    sc:narrow(1, 1, E):fill_(1 / math.sqrt(self.head_dim))
    rawset(self, '_qkv_scale', sc)
  end
  return self.in_proj_weight * sc, self.bias and self.in_proj_bias * sc:view(3 * E) or nil
end

-- mha(query, key, value [, {attn_mask=, key_padding_mask=, need_weights=true,
--   average_attn_weights=true, is_causal=false}]) -> output, weights (nil without need_weights)
function MHA:forward(query, key, value, opts)
  opts = options.check(NAME, opts, CALL)
  key = key or query
  value = value or key
  local q, L, B, batched = self:_layout(query, 'query')
  local k, S, kb, kbat = self:_layout(key, 'key')
  local v, vs, vb, vbat = self:_layout(value, 'value')
  local E, H = self.embed_dim, self.num_heads
  if kbat ~= batched or vbat ~= batched or kb ~= B or vb ~= B or vs ~= S then
    errors.raisef('%s: query %s, key %s and value %s do not agree in batch and length', NAME,
      shape_str(query), shape_str(key), shape_str(value))
  end
  local w, b = self:_scaled_in_proj(q.device)
  local qh, kh, vh
  if rawequal(query, key) and rawequal(key, value) then -- self-attention: one product
    local qkv = project(q, w, b)
    qh, kh, vh = self:_heads(qkv, 1), self:_heads(qkv, 2), self:_heads(qkv, 3)
  else
    local function part(x, i)
      return project(x, w:narrow(1, i * E + 1, E), b and b:narrow(1, i * E + 1, E))
    end
    qh, kh, vh = self:_heads(part(q, 0)), self:_heads(part(k, 1)), self:_heads(part(v, 2))
  end
  local mask = self:_mask(opts, L, S, B, batched)
  local f32 = q.dtype == 'float32' -- the fused rows are float32; float64 takes the plain ops
  local fused = f32 and not opts.need_weights and not (self.training and self.dropout > 0)
    and not (mask and mask.requires_grad and gb.is_grad_enabled()) and gb._sdpa_takes(kh)
  if fused then -- one row; the scores never exist whole (1/sqrt(d) is in the projection)
    local ctx = gb._sdpa(qh, kh, vh, 1, opts.is_causal, mask) -- (B, L, H, d)
    local out
    if self.batch_first then
      out = self.out_proj(ctx:view(B * L, E)):view(B, L, E)
    else
      out = self.out_proj(ctx:transpose(1, 2):reshape(L * B, E)):view(L, B, E)
    end
    if not batched then out = out:squeeze(self.batch_first and 1 or 2) end
    return out, nil
  end
  local scores = qh:matmul(kh:transpose(3, 4)) -- (B, H, L, S)
  -- the causal mask and the given ones are applied while the softmax reads the scores
  local p
  if f32 then
    p = gb._masked_softmax(scores, mask, opts.is_causal)
  else
    if opts.is_causal then
      local c = MHA.causal_mask(L, S, { device = q.device })
      mask = mask and mask + c or c
    end
    p = (mask and scores + mask or scores):softmax(-1)
  end
  local pd = p
  if self.training and self.dropout > 0 then
    local keep = gb.rand_like(p):ge(self.dropout)
    pd = p * (keep * (1 / (1 - self.dropout)))
  end
  local ctx = pd:matmul(vh) -- (B, H, L, d)
  local out
  if self.batch_first then
    out = self.out_proj(ctx:permute(1, 3, 2, 4):reshape(B * L, E)):view(B, L, E)
  else
    out = self.out_proj(ctx:permute(3, 1, 2, 4):reshape(L * B, E)):view(L, B, E)
  end
  if not batched then out = out:squeeze(self.batch_first and 1 or 2) end
  local weights
  if opts.need_weights then
    weights = opts.average_attn_weights and pd:mean(2) or pd
    if not batched then weights = weights:squeeze(1) end
  end
  return out, weights
end

function MHA:extra_repr()
  return self.embed_dim .. ', num_heads=' .. self.num_heads
         .. (self.dropout ~= 0 and (', dropout=' .. self.dropout) or '')
         .. (self.bias and '' or ', bias=false')
         .. (self.batch_first and ', batch_first=true' or '')
end

return MHA
