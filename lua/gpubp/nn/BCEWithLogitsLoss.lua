-- nn/BCEWithLogitsLoss.lua — binary cross-entropy on logits x with targets y in [0, 1],
-- in the stable form max(x, 0) - x*y + log(1 + exp(-|x|)).
-- {reduction='mean'|'sum'|'none', pos_weight=tensor or nil, weight=tensor or nil (times
-- each element's loss, broadcast, as PyTorch's)}.

local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local reduction = require('gpubp.nn.reduction')

local BCEWithLogitsLoss = Module:extend('BCEWithLogitsLoss')

function BCEWithLogitsLoss:init(opts)
  opts = options.check('BCEWithLogitsLoss', opts, {
    reduction = 'mean', pos_weight = options.opt(nil, 'tensor'), weight = options.opt(nil, 'tensor'),
  })
  self.reduction = reduction.check('BCEWithLogitsLoss', opts.reduction)
  self.pos_weight, self.weight = opts.pos_weight, opts.weight
end

function BCEWithLogitsLoss:forward(x, y)
  local softplus_neg_abs = ((-x:abs()):exp() + 1):log()  -- log(1 + exp(-|x|))
  local losses
  if self.pos_weight then
    -- PyTorch: (1 - y) x + (1 + (pw - 1) y) (log(1 + exp(-|x|)) + max(-x, 0))
    local lw = (self.pos_weight - 1) * y + 1
    losses = (1 - y) * x + lw * (softplus_neg_abs + (-x):relu())
  else
    losses = x:relu() - x * y + softplus_neg_abs
  end
  if self.weight then losses = losses * self.weight end
  return reduction.apply(self.reduction, losses)
end

function BCEWithLogitsLoss:extra_repr()
  return self.reduction == 'mean' and '' or "reduction='" .. self.reduction .. "'"
end

return BCEWithLogitsLoss
