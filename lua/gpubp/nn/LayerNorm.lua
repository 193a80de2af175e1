-- nn/LayerNorm.lua — normalizes over the trailing normalized_shape dims of each sample
-- with the biased variance, then applies an elementwise affine (weight 1, bias 0 at init), as
-- one fused row forward and one backward (gb._layer_norm).

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local Parameter = require('gpubp.nn.Parameter')
local gb = require('gpubp.class').gb

local LayerNorm = Module:extend('LayerNorm')

-- LayerNorm(normalized_shape (number or table), {eps=1e-5, elementwise_affine=true})
function LayerNorm:init(normalized_shape, opts)
  if type(normalized_shape) == 'number' then normalized_shape = { normalized_shape } end
  if type(normalized_shape) ~= 'table' or #normalized_shape == 0 then
    errors.raise('LayerNorm: normalized_shape must be a positive integer or a table of them, got '
          .. tostring(normalized_shape))
  end
  local shape = {} -- a copy, the sizes as integers (4.0 -> 4)
  for i, n in ipairs(normalized_shape) do
    shape[i] = options.positive_int('LayerNorm', 'normalized_shape[' .. i .. ']', n)
  end
  normalized_shape = shape
  opts = options.check('LayerNorm', opts, {
    eps = 1e-5, elementwise_affine = true, device = options.optional,
  })
  self.normalized_shape = normalized_shape
  self.eps = opts.eps
  self.elementwise_affine = opts.elementwise_affine
  if self.elementwise_affine then
    self.weight = Parameter(gb.ones(normalized_shape, { device = opts.device }))
    self.bias = Parameter(gb.zeros(normalized_shape, { device = opts.device }))
  end
end

function LayerNorm:forward(x)
  local k, d = #self.normalized_shape, x:dim()
  local shape = x.shape
  local ok = d >= k
  for i = 1, k do
    if not ok then break end
    ok = shape[d - k + i] == self.normalized_shape[i]
  end
  if not ok then
    errors.raise(string.format('LayerNorm: expected input ending in (%s), got (%s)',
      table.concat(self.normalized_shape, ','), table.concat(shape, ',')))
  end
  -- where the device runs the row in x's dtype (gb._layer_norm_fused: float32, and float64 on
  -- the cpu): one fused row (gb._layer_norm), statistics, normalization and the affine in one
  -- pass, and one backward row; otherwise (float64 on cuda): composed of ops
  if gb._layer_norm_fused(x) then
    return gb._layer_norm(x, self.weight, self.bias, k, self.eps)
  end
  local flat = x
  if k > 1 then
    local rows = {}
    for i = 1, d - k do rows[#rows + 1] = shape[i] end
    rows[#rows + 1] = -1
    flat = x:reshape(rows)
  end
  local mean = flat:mean(-1, true)
  local centered = flat - mean
  local var = (centered * centered):mean(-1, true)
  local y = centered / (var + self.eps):sqrt()
  if k > 1 then y = y:reshape(shape) end
  if self.elementwise_affine then y = y * self.weight + self.bias end
  return y
end

function LayerNorm:extra_repr()
  return '(' .. table.concat(self.normalized_shape, ',') .. '), eps=' .. self.eps
         .. ', elementwise_affine=' .. tostring(self.elementwise_affine)
end

return LayerNorm
