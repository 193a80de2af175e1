-- nn/Embedding.lua — a lookup table: indices (any shape, int64, 1..num_embeddings) ->
-- rows of weight (num_embeddings, embedding_dim), initialized N(0, 1) as in PyTorch.

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Module = require('gpubp.nn.Module')
local Parameter = require('gpubp.nn.Parameter')
local init = require('gpubp.nn.init_fns')
local gb = require('gpubp.class').gb

local Embedding = Module:extend('Embedding')

-- Embedding(num_embeddings, embedding_dim, {device=})
function Embedding:init(num_embeddings, embedding_dim, opts)
  num_embeddings = options.positive_int('Embedding', 'num_embeddings', num_embeddings)
  embedding_dim = options.positive_int('Embedding', 'embedding_dim', embedding_dim)
  opts = options.check('Embedding', opts, { device = options.optional })
  self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
  self.weight = Parameter(gb.empty({ num_embeddings, embedding_dim }, { device = opts.device }))
  init.normal_(self.weight, 0, 1)
end

function Embedding:forward(idx)
  if not gb.is_tensor(idx) then
    errors.raise('Embedding: expected a tensor of indices, got ' .. type(idx))
  end
  if idx.dtype ~= 'int64' and idx.dtype ~= 'int32' then
    errors.raise('Embedding: expected indices of dtype int64 or int32, got ' .. idx.dtype)
  end
  if idx.dtype ~= 'int64' then idx = idx:long() end
  local shape = idx.shape
  local rows = self.weight:index_select(1, idx:reshape(-1))
  shape[#shape + 1] = self.embedding_dim
  return rows:reshape(shape)
end

function Embedding:__tostring()
  return 'Embedding(' .. self.num_embeddings .. ', ' .. self.embedding_dim .. ')'
end

return Embedding
