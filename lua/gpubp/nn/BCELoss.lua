-- nn/BCELoss.lua — binary cross-entropy on probabilities x in [0, 1] with targets y:
-- -w (y log x + (1 - y) log(1 - x)), each log clamped at -100 as PyTorch's, so x = 0 or 1
-- gives a finite loss. {reduction='mean'|'sum'|'none', weight=tensor or nil (broadcast)}.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local reduction = require('gpubp.nn.reduction')

local BCELoss = Module:extend('BCELoss')

function BCELoss:init(opts)
  opts = options.check('BCELoss', opts, {
    reduction = 'mean', weight = options.opt(nil, 'tensor'),
  })
  self.reduction = reduction.check('BCELoss', opts.reduction)
  self.weight = opts.weight
end

local function shape_str(t) return '(' .. table.concat(t.shape, ',') .. ')' end

function BCELoss:forward(x, y)
  if x:numel() ~= y:numel() or x:dim() ~= y:dim() then
    errors.raise('BCELoss: input ' .. shape_str(x) .. ' and target ' .. shape_str(y)
      .. ' must have the same shape')
  end
  for d = 1, x:dim() do
    if x:size(d) ~= y:size(d) then
      errors.raise('BCELoss: input ' .. shape_str(x) .. ' and target ' .. shape_str(y)
        .. ' must have the same shape')
    end
  end
  local outside = (x:lt(0) + x:gt(1)):sum():item()
  if outside > 0 then
    errors.raise('BCELoss: all elements of input should be between 0 and 1')
  end
  local losses = -(y * x:log():clamp(-100) + (1 - y) * (1 - x):log():clamp(-100))
  if self.weight then losses = losses * self.weight end
  return reduction.apply(self.reduction, losses)
end

function BCELoss:extra_repr()
  return self.reduction == 'mean' and '' or "reduction='" .. self.reduction .. "'"
end

return BCELoss
