-- nn/BCEWithLogitsLoss.lua — binary cross-entropy on logits x with targets y in [0, 1],
-- in the stable form max(x, 0) - x*y + log(1 + exp(-|x|)).
-- {reduction='mean'|'sum'|'none', pos_weight=tensor or nil}.

local Module = require('gpubp.nn.Module')
local reduction = require('gpubp.nn.reduction')

local BCEWithLogitsLoss = Module:extend('BCEWithLogitsLoss')

function BCEWithLogitsLoss:init(opts)
  self.reduction = reduction.check('BCEWithLogitsLoss', opts)
  self.pos_weight = opts and opts.pos_weight
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
  return reduction.apply(self.reduction, losses)
end

function BCEWithLogitsLoss:extra_repr()
  return self.reduction == 'mean' and '' or "reduction='" .. self.reduction .. "'"
end

return BCEWithLogitsLoss
