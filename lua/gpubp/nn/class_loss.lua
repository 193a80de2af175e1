-- nn/class_loss.lua — shared by CrossEntropyLoss and NLLLoss: label checks (integer class
-- labels 1..C, never silently truncated floats) and PyTorch's weighted, ignore_index-aware,
-- label-smoothed negative log-likelihood over log-probabilities (N, C).

local errors = require('gpubp.errors')
local gb = require('gpubp.class').gb

local class_loss = {}

-- Checks input (N, C) and labels (N) of an integer dtype; returns the labels as int64.
function class_loss.check(name, input, labels, what)
  if not gb.is_tensor(input) then
    errors.raisef('%s: expected a tensor of %s (N, C), got %s', name, what, type(input))
  end
  if not gb.is_tensor(labels) then
    errors.raisef('%s: expected a tensor of class labels, got %s', name, type(labels))
  end
  if input:dim() ~= 2 then
    errors.raisef('%s: expected %s of shape (N, C), got (%s)', name, what,
      table.concat(input.shape, ','))
  end
  if labels.dtype ~= 'int64' and labels.dtype ~= 'int32' then
    errors.raisef('%s: expected scalar type Long (int64 class labels 1..C) but found %s labels',
      name, labels.dtype)
  end
  if labels:dim() ~= 1 or labels:size(1) ~= input:size(1) then
    errors.raisef('%s: expected labels of shape (%d), got (%s)', name, input:size(1),
      table.concat(labels.shape, ','))
  end
  if labels.dtype ~= 'int64' then labels = labels:long() end
  return labels
end

-- Checks the weight option against C classes.
function class_loss.check_weight(name, weight, c, input)
  if weight == nil then return nil end
  if weight:dim() ~= 1 or weight:size(1) ~= c then
    errors.raisef('%s: expected weight of shape (%d) (one per class), got (%s)', name, c,
      table.concat(weight.shape, ','))
  end
  if weight.device ~= input.device then weight = weight:to(input.device) end
  if weight.dtype ~= input.dtype then weight = weight:float() end
  return weight
end

-- True when some label equals ignore_index (only possible when it lies in 1..C).
function class_loss.any_ignored(labels, ignore_index, c)
  if ignore_index < 1 or ignore_index > c then return false end
  return labels:eq(ignore_index):sum():item() > 0
end

-- PyTorch's loss over log-probabilities logp (N, C) and int64 labels (N):
--   nll_i    = -w[y_i] logp[i, y_i]                  (0 where y_i == ignore_index)
--   smooth_i = -sum_c w[c] logp[i, c]                (0 where y_i == ignore_index)
--   loss_i   = (1 - eps) nll_i + eps / C * smooth_i
-- 'mean' divides both sums by sum_i w[y_i] over the rows not ignored (NaN when every row
-- is ignored, as PyTorch); 'sum' sums; 'none' returns the (N) losses.
function class_loss.nll(logp, labels, o)
  local n, c = logp:size(1), logp:size(2)
  local valid = labels:ne(o.ignore_index) -- float 0/1
  local safe = gb.where(valid, labels:float(), 1):long()
  local picked = logp:gather(2, safe:view(n, 1)):view(n)
  local w = valid
  if o.weight then w = o.weight:index_select(1, safe) * valid end
  local losses = -(picked * w)
  local eps = o.label_smoothing or 0
  local smooth
  if eps > 0 then
    local s = o.weight and (logp * o.weight):sum(2) or logp:sum(2)
    smooth = -(s * valid)
  end
  if o.reduction == 'none' then
    if smooth then return losses * (1 - eps) + smooth * (eps / c) end
    return losses
  end
  local total = losses:sum()
  local stotal = smooth and smooth:sum()
  if o.reduction == 'mean' then
    local denom = w:sum()
    total = total / denom
    if stotal then stotal = stotal / denom end
  end
  if stotal then return total * (1 - eps) + stotal * (eps / c) end
  return total
end

return class_loss
