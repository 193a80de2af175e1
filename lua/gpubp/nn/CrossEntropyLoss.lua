-- nn/CrossEntropyLoss.lua — loss(logits (N, C), labels (N) in 1..C) = mean over rows of
-- -log softmax(logits)[label], through the core's fused, stable gb.cross_entropy.
-- {reduction='mean'|'sum'|'none'}.

local errors = require('gpubp.errors')
local Module = require('gpubp.nn.Module')
local reduction = require('gpubp.nn.reduction')
local gb = require('gpubp.class').gb

local CrossEntropyLoss = Module:extend('CrossEntropyLoss')

function CrossEntropyLoss:init(opts)
  self.reduction = reduction.check('CrossEntropyLoss', opts)
end

local function as_labels(labels)
  if labels.dtype ~= 'int64' then return labels:long() end
  return labels
end

-- Per-row losses via one-hot selection (used for 'none').
local function per_row(logits, labels)
  local onehot = gb.eye(logits:size(2), { device = logits.device }):index_select(1, labels)
  return -(logits:log_softmax(2) * onehot):sum(2)
end

function CrossEntropyLoss:forward(logits, labels)
  if logits:dim() ~= 2 then
    errors.raise('CrossEntropyLoss: expected logits of shape (N, C), got ('
          .. table.concat(logits.shape, ',') .. ')')
  end
  labels = as_labels(labels)
  if self.reduction == 'none' then return per_row(logits, labels) end
  local loss = gb.cross_entropy(logits, labels)
  if self.reduction == 'sum' then return loss * logits:size(1) end
  return loss
end

function CrossEntropyLoss:extra_repr()
  return self.reduction == 'mean' and '' or "reduction='" .. self.reduction .. "'"
end

return CrossEntropyLoss
