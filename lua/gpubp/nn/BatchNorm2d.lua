-- nn/BatchNorm2d.lua — batch norm of each channel of an (N, C, H, W) batch over N, H and W,
-- as PyTorch's BatchNorm2d (nn/BatchNormBase.lua has the forward, running estimates and
-- options).

local BatchNormBase = require('gpubp.nn.BatchNormBase')

local BatchNorm2d = BatchNormBase:extend('BatchNorm2d')

BatchNorm2d.accepts = { [4] = true }

function BatchNorm2d:_shape_error(x)
  return string.format('BatchNorm2d: expected input of shape (N, %d, H, W), got (%s)',
    self.num_features, table.concat(x.shape, ','))
end

return BatchNorm2d
