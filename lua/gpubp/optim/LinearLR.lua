-- optim/LinearLR.lua — linear warm-up (or decay) of the lr factor from start_factor to
-- end_factor over total_iters steps, then constant, as PyTorch's LinearLR:
--   lr = base_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)

local LRScheduler = require('gpubp.optim.LRScheduler')
local check = require('gpubp.utils.check')
local options = require('gpubp.options')

local LinearLR = LRScheduler:extend('LinearLR')

-- LinearLR(optimizer, start_factor=1/3, end_factor=1, total_iters=5), or the same as a table
function LinearLR:init(optimizer, ...)
  local a = LRScheduler._read_args('LinearLR', { { 'start_factor', 1 / 3 }, { 'end_factor', 1.0 },
    { 'total_iters', 5 } }, ...)
  local s = LRScheduler._check_number('LinearLR', 'start_factor', a.start_factor)
  if s <= 0 or s > 1 then
    check.raise('LinearLR: start_factor must be in (0, 1], got ' .. tostring(s))
  end
  self.start_factor = s
  self.end_factor = LRScheduler._check_number('LinearLR', 'end_factor', a.end_factor, 0, 1)
  self.total_iters = options.integer_at_least(a.total_iters, 1)
  if not self.total_iters then
    check.raise('LinearLR: total_iters must be a positive integer, got ' .. tostring(a.total_iters))
  end
  LRScheduler.init(self, optimizer)
end

function LinearLR:get_lr(base, epoch)
  local e = math.min(epoch, self.total_iters)
  return base * (self.start_factor + (self.end_factor - self.start_factor) * e / self.total_iters)
end

return LinearLR
