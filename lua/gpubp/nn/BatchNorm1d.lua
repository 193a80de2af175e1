-- nn/BatchNorm1d.lua — batch norm of each feature of an (N, C) or (N, C, L) batch, as
-- PyTorch's BatchNorm1d (nn/BatchNormBase.lua has the forward, running estimates and
-- options).

local BatchNormBase = require('gpubp.nn.BatchNormBase')

local BatchNorm1d = BatchNormBase:extend('BatchNorm1d')

BatchNorm1d.accepts = { [2] = true, [3] = true }

function BatchNorm1d:_shape_error(x)
  return string.format('BatchNorm1d: expected input of shape (N, %d) or (N, %d, L), got (%s)',
    self.num_features, self.num_features, table.concat(x.shape, ','))
end

return BatchNorm1d
