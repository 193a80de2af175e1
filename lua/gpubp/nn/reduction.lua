-- nn/reduction.lua — shared by the loss classes: checks the `reduction` option and applies
-- 'mean' (default), 'sum' or 'none' to a tensor of per-element losses.

local errors = require('gpubp.errors')
local reduction = {}

local VALID = { mean = true, sum = true, none = true }

-- reduction.check(class_name, r): r is the reduction string (already through
-- options.check) or, for older callers, the options table holding it.
function reduction.check(class_name, opts)
  local r = opts
  if type(opts) ~= 'string' then r = (opts and opts.reduction) or 'mean' end
  if not VALID[r] then
    errors.raise(class_name .. ": reduction must be 'mean', 'sum' or 'none', got '" .. tostring(r) .. "'")
  end
  return r
end

function reduction.apply(r, losses)
  if r == 'mean' then return losses:mean() end
  if r == 'sum' then return losses:sum() end
  return losses
end

return reduction
