-- optim/AdamW.lua — Adam with decoupled weight decay (Loshchilov & Hutter), as PyTorch's
-- torch.optim.AdamW: p = p * (1 - lr * wd), then the Adam step without L2 in the gradient.
-- Default weight_decay 1e-2.

local Optimizer = require('gpubp.optim.Optimizer')
local Adam = require('gpubp.optim.Adam')

local AdamW = Adam:extend('AdamW')

-- AdamW(params, {lr=1e-3, betas={0.9, 0.999}, eps=1e-8, weight_decay=1e-2, amsgrad=false})
function AdamW:init(params, opts)
  Optimizer.init(self, params, Adam.make_defaults(1e-2), opts)
end

function AdamW:update(p, g, state, group)
  self:adam_update(p, g, state, group, 0, true)
end

return AdamW
