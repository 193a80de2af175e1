-- nn/NLLLoss.lua — loss(logp (N, C), labels (N) in 1..C) = mean of -logp[row, label];
-- pair it with LogSoftmax. {reduction='mean'|'sum'|'none'}.

local errors = require('gpubp.errors')
local Module = require('gpubp.nn.Module')
local reduction = require('gpubp.nn.reduction')
local gb = require('gpubp.class').gb

local NLLLoss = Module:extend('NLLLoss')

function NLLLoss:init(opts)
  self.reduction = reduction.check('NLLLoss', opts)
end

function NLLLoss:forward(logp, labels)
  if logp:dim() ~= 2 then
    errors.raise('NLLLoss: expected log-probabilities of shape (N, C), got ('
          .. table.concat(logp.shape, ',') .. ')')
  end
  if labels.dtype ~= 'int64' then labels = labels:long() end
  if self.reduction == 'none' then
    local onehot = gb.eye(logp:size(2), { device = logp.device }):index_select(1, labels)
    return -(logp * onehot):sum(2)
  end
  local loss = gb.nll_loss(logp, labels)
  if self.reduction == 'sum' then return loss * logp:size(1) end
  return loss
end

function NLLLoss:extra_repr()
  return self.reduction == 'mean' and '' or "reduction='" .. self.reduction .. "'"
end

return NLLLoss
