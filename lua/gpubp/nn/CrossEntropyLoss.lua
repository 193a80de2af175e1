-- nn/CrossEntropyLoss.lua — loss(logits (N, C), labels (N) int64 in 1..C): PyTorch's
-- CrossEntropyLoss{reduction='mean'|'sum'|'none', weight=, ignore_index=-100,
-- label_smoothing=0}. Without weight, smoothing or ignored labels it runs the core's fused,
-- stable gb.cross_entropy; otherwise log_softmax and nn/class_loss.lua.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local reduction = require('gpubp.nn.reduction')
local class_loss = require('gpubp.nn.class_loss')
local gb = require('gpubp.class').gb

local CrossEntropyLoss = Module:extend('CrossEntropyLoss')

local SPEC = {
  reduction = 'mean', weight = options.opt(nil, 'tensor'),
  ignore_index = options.opt(-100, 'integer'), label_smoothing = 0.0,
}

function CrossEntropyLoss:init(opts)
  opts = options.check('CrossEntropyLoss', opts, SPEC)
  self.reduction = reduction.check('CrossEntropyLoss', opts.reduction)
  local eps = opts.label_smoothing
  if eps < 0 or eps > 1 then
    errors.raise('CrossEntropyLoss: label_smoothing must be between 0.0 and 1.0, got ' .. eps)
  end
  if opts.weight ~= nil then self:register_buffer('weight', opts.weight) end
  self.ignore_index, self.label_smoothing = opts.ignore_index, eps
end

-- Per-row losses via one-hot selection (the fused path's 'none').
local function per_row(logits, labels)
  local onehot = gb.eye(logits:size(2), { device = logits.device }):index_select(1, labels)
  return -(logits:log_softmax(2) * onehot):sum(2)
end

function CrossEntropyLoss:forward(logits, labels)
  labels = class_loss.check('CrossEntropyLoss', logits, labels, 'logits')
  local c = logits:size(2)
  local weight = class_loss.check_weight('CrossEntropyLoss', self.weight, c, logits)
  if weight == nil and self.label_smoothing == 0
     and not class_loss.any_ignored(labels, self.ignore_index, c) then
    if self.reduction == 'none' then return per_row(logits, labels) end
    local loss = gb.cross_entropy(logits, labels)
    if self.reduction == 'sum' then return loss * logits:size(1) end
    return loss
  end
  return class_loss.nll(logits:log_softmax(2), labels, {
    weight = weight, ignore_index = self.ignore_index, label_smoothing = self.label_smoothing,
    reduction = self.reduction,
  })
end

function CrossEntropyLoss:extra_repr()
  local parts = {}
  if self.reduction ~= 'mean' then parts[#parts + 1] = "reduction='" .. self.reduction .. "'" end
  if self.weight then parts[#parts + 1] = 'weight=(' .. self.weight:size(1) .. ')' end
  if self.ignore_index ~= -100 then parts[#parts + 1] = 'ignore_index=' .. self.ignore_index end
  if self.label_smoothing ~= 0 then parts[#parts + 1] = 'label_smoothing=' .. self.label_smoothing end
  return table.concat(parts, ', ')
end

return CrossEntropyLoss
