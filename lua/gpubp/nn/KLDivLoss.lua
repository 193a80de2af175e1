-- nn/KLDivLoss.lua — KL divergence of log-probabilities `input` from `target`:
-- target (log target - input), 0 where target = 0 (as PyTorch's xlogy); with log_target,
-- exp(target) (target - input). {reduction='mean'|'batchmean'|'sum'|'none',
-- log_target=false}; 'mean' averages over every element, 'batchmean' divides the sum by N.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local gb = require('gpubp.class').gb

local KLDivLoss = Module:extend('KLDivLoss')

local VALID = { mean = true, batchmean = true, sum = true, none = true }

function KLDivLoss:init(opts)
  opts = options.check('KLDivLoss', opts, { reduction = 'mean', log_target = false })
  if not VALID[opts.reduction] then
    errors.raise("KLDivLoss: reduction must be 'mean', 'batchmean', 'sum' or 'none', got '"
      .. tostring(opts.reduction) .. "'")
  end
  self.reduction, self.log_target = opts.reduction, opts.log_target
end

function KLDivLoss:forward(input, target)
  local losses
  if self.log_target then
    losses = target:exp() * (target - input)
  else
    local pos = target:gt(0)
    local safe = gb.where(pos, target, 1) -- log(1) = 0 where target is 0: no -inf * 0
    losses = gb.where(pos, target * (safe:log() - input), 0)
  end
  local r = self.reduction
  if r == 'sum' then return losses:sum() end
  if r == 'mean' then return losses:mean() end
  if r == 'batchmean' then
    return losses:sum() / (input:dim() > 0 and input:size(1) or 1)
  end
  return losses
end

function KLDivLoss:extra_repr()
  local parts = {}
  if self.reduction ~= 'mean' then parts[#parts + 1] = "reduction='" .. self.reduction .. "'" end
  if self.log_target then parts[#parts + 1] = 'log_target=true' end
  return table.concat(parts, ', ')
end

return KLDivLoss
