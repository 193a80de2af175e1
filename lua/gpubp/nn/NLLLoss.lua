-- nn/NLLLoss.lua — loss(logp (N, C), labels (N) int64 in 1..C) = mean of -logp[row, label];
-- pair it with LogSoftmax. PyTorch's NLLLoss{reduction='mean'|'sum'|'none', weight=,
-- ignore_index=-100}; the plain case runs the core's gb.nll_loss.

local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local reduction = require('gpubp.nn.reduction')
local class_loss = require('gpubp.nn.class_loss')
local gb = require('gpubp.class').gb

local NLLLoss = Module:extend('NLLLoss')

local SPEC = {
  reduction = 'mean', weight = options.opt(nil, 'tensor'),
  ignore_index = options.opt(-100, 'integer'),
}

function NLLLoss:init(opts)
  opts = options.check('NLLLoss', opts, SPEC)
  self.reduction = reduction.check('NLLLoss', opts.reduction)
  if opts.weight ~= nil then self:register_buffer('weight', opts.weight) end
  self.ignore_index = opts.ignore_index
end

function NLLLoss:forward(logp, labels)
  labels = class_loss.check('NLLLoss', logp, labels, 'log-probabilities')
  local c = logp:size(2)
  local weight = class_loss.check_weight('NLLLoss', self.weight, c, logp)
  if weight == nil and not class_loss.any_ignored(labels, self.ignore_index, c) then
    if self.reduction == 'none' then
      local onehot = gb.eye(c, { device = logp.device }):index_select(1, labels)
      return -(logp * onehot):sum(2)
    end
    local loss = gb.nll_loss(logp, labels)
    if self.reduction == 'sum' then return loss * logp:size(1) end
    return loss
  end
  return class_loss.nll(logp, labels, {
    weight = weight, ignore_index = self.ignore_index, reduction = self.reduction,
  })
end

function NLLLoss:extra_repr()
  return self.reduction == 'mean' and '' or "reduction='" .. self.reduction .. "'"
end

return NLLLoss
