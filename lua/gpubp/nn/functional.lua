-- nn/functional.lua — gb.nn.functional: the stateless forms of layers a PyTorch user reaches
-- for as torch.nn.functional: scaled_dot_product_attention (one fused row, gb._sdpa, in
-- float32 without dropout, the mask read in place: the scores exist only in per-thread tiles;
-- an attn_mask that requires grad takes the materialised softmax, which differentiates it) and
-- layer_norm (one fused row, gb._layer_norm); conv1d/conv2d (the fused conv2d row, options as
-- the Conv layers': nn/ConvBase.lua) and max_pool1d/2d, avg_pool1d/2d (the pooling layers,
-- built per call: nn/PoolBase.lua).

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local gb = require('gpubp.class').gb

local F = {}

local function shape_str(t) return '(' .. table.concat(t.shape, ', ') .. ')' end

local SDPA = 'scaled_dot_product_attention'
local SDPA_OPTS = { attn_mask = options.opt(nil, 'tensor'), dropout_p = 0, is_causal = false,
  scale = options.opt(nil, 'number') }

-- A mask as an additive float32 tensor: float masks are added as they are; integer masks
-- are boolean, nonzero = may attend (PyTorch's convention for this function).
local function additive(m)
  if m.dtype == 'float32' or m.dtype == 'float64' then return m end
  return gb.where(m:ne(0), gb.zeros(1, { device = m.device }),
    gb.full({ 1 }, -math.huge, { device = m.device }))
end

-- scaled_dot_product_attention(query (..., L, E), key (..., S, E), value (..., S, Ev)
--   [, {attn_mask=, dropout_p=0, is_causal=false, scale=1/sqrt(E)}]) -> (..., L, Ev)
function F.scaled_dot_product_attention(q, k, v, opts)
  opts = options.check(SDPA, opts, SDPA_OPTS)
  for i, t in ipairs({ q, k, v }) do
    if not gb.is_tensor(t) or (t:dim() ~= 3 and t:dim() ~= 4) then
      errors.raisef('%s: argument %d: expected a 3-D (N, L, E) or 4-D (B, H, L, E) tensor, got %s',
        SDPA, i, gb.is_tensor(t) and shape_str(t) or type(t))
    end
  end
  if k:dim() ~= q:dim() or v:dim() ~= q:dim() then
    errors.raisef('%s: query %s, key %s and value %s differ in rank', SDPA, shape_str(q),
      shape_str(k), shape_str(v))
  end
  local p = opts.dropout_p
  if p < 0 or p > 1 then
    errors.raisef('%s: dropout_p must be a probability in [0, 1], got %s', SDPA, tostring(p))
  end
  local three = q:dim() == 3
  if three then q, k, v = q:unsqueeze(2), k:unsqueeze(2), v:unsqueeze(2) end
  local scale = opts.scale or 1 / math.sqrt(q:size(4))
  local m = opts.attn_mask and additive(opts.attn_mask) or nil
  if three and m and m:dim() == 3 then m = m:unsqueeze(2) end -- (N, L, S) over (N, 1, L, S)
  local out
  if p == 0 and q.dtype == 'float32' and not (m and m.requires_grad and gb.is_grad_enabled())
     and gb._sdpa_takes(k) then
    out = gb._sdpa(q, k, v, scale, opts.is_causal, m):transpose(2, 3) -- (B,L,H,Ev) -> (B,H,L,Ev)
  else
    if q:size(1) ~= k:size(1) or q:size(2) ~= k:size(2) or q:size(4) ~= k:size(4) then
      errors.raisef('%s: query %s and key %s do not fit', SDPA, shape_str(q), shape_str(k))
    end
    local scores = q:matmul(k:transpose(3, 4)) * scale
    local probs
    if scores.dtype == 'float32' then
      probs = gb._masked_softmax(scores, m, opts.is_causal)
    else -- float64: the masks are added (the fused rows are float32)
      if opts.is_causal then
        local c = gb.nn.MultiheadAttention.causal_mask(q:size(3), k:size(3), { device = q.device })
        m = m and m + c or c
      end
      probs = (m and scores + m or scores):softmax(-1)
    end
    if p > 0 then probs = probs * (gb.rand_like(probs):ge(p) * (1 / (1 - p))) end
    out = probs:matmul(v)
  end
  if three then out = out:squeeze(2) end
  return out
end

-- layer_norm(x, normalized_shape (number or table) [, weight [, bias [, eps=1e-5]]])
function F.layer_norm(x, normalized_shape, weight, bias, eps)
  if type(normalized_shape) == 'number' then normalized_shape = { normalized_shape } end
  if not gb.is_tensor(x) or type(normalized_shape) ~= 'table' or #normalized_shape == 0 then
    errors.raise('layer_norm: expected (x, normalized_shape [, weight [, bias [, eps]]])')
  end
  if (weight == nil) ~= (bias == nil) then
    errors.raise('layer_norm: give both weight and bias, or neither')
  end
  local k, d = #normalized_shape, x:dim()
  for i = 1, k do
    if d < k or x:size(d - k + i) ~= normalized_shape[i] then
      errors.raisef('layer_norm: expected input ending in (%s), got %s',
        table.concat(normalized_shape, ','), shape_str(x))
    end
  end
  return gb._layer_norm(x, weight, bias, k, eps or 1e-5)
end

local CONV_OPTS = {
  stride = options.opt(1, 'integer', 'table'),
  padding = options.opt(0, 'integer', 'table', 'string'),
  dilation = options.opt(1, 'integer', 'table'), groups = options.opt(1, 'integer'),
}

-- conv1d/conv2d(input, weight (out, in/groups, k...) [, bias (out) [, {stride=1, padding=0,
-- dilation=1, groups=1}]]), as torch.nn.functional's: padding also 'same' or 'valid'
local function conv(name, dims)
  return function(x, w, b, opts)
    local ConvBase = require('gpubp.nn.ConvBase')
    if not gb.is_tensor(x) or not gb.is_tensor(w) or (b ~= nil and not gb.is_tensor(b)) then
      errors.raisef('%s: expected (input, weight [, bias [, opts]]) tensors, got %s, %s, %s', name,
        type(x), type(w), type(b))
    end
    if w:dim() ~= dims + 2 then
      errors.raisef('%s: expected a weight (out, in/groups, %s), got %s', name,
        dims == 2 and 'kh, kw' or 'k', shape_str(w))
    end
    opts = options.check(name, opts, CONV_OPTS)
    local win = ConvBase._parse_window(name, dims, { table.unpack(w.shape, 3) }, opts)
    return ConvBase._run(name, dims, x, w, b, win, nil)
  end
end

F.conv1d = conv('conv1d', 1)
F.conv2d = conv('conv2d', 2)

-- max_pool1d/2d and avg_pool1d/2d(input, kernel_size [, opts]): the layer of that name with
-- those options (errors name the layer), applied once
local function pool(class)
  return function(x, kernel_size, opts)
    return gb.nn[class](kernel_size, opts)(x)
  end
end

F.max_pool1d = pool('MaxPool1d')
F.max_pool2d = pool('MaxPool2d')
F.avg_pool1d = pool('AvgPool1d')
F.avg_pool2d = pool('AvgPool2d')

return F
