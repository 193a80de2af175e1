-- nn/recurrent.lua — what LSTM, GRU and their cells share (not a class): option and input
-- checks, PyTorch's parameter names and init, and one layer's run over the whole sequence
-- through the lstm_seq / gru_seq rows (runtime/core/gb_rnn_math.h has the record layout).

local errors = require('gpubp.errors')
local options = require('gpubp.options')
local Parameter = require('gpubp.nn.Parameter')
local init = require('gpubp.nn.init_fns')
local gb = require('gpubp.class').gb

local R = {}

R.SPEC = {
  num_layers = 1, bias = true, batch_first = false, dropout = 0, bidirectional = false,
  device = options.optional,
}

-- Checked options of an LSTM/GRU layer (name for messages, gates per unit: 4 or 3).
function R.setup(self, name, gates, input_size, hidden_size, opts)
  input_size = options.positive_int(name, 'input_size', input_size)
  hidden_size = options.positive_int(name, 'hidden_size', hidden_size)
  opts = options.check(name, opts, R.SPEC)
  opts.num_layers = options.positive_int(name, 'num_layers', opts.num_layers)
  if opts.dropout < 0 or opts.dropout > 1 then
    errors.raisef('%s: dropout must be a probability in [0, 1], got %s', name, tostring(opts.dropout))
  end
  self.input_size, self.hidden_size = input_size, hidden_size
  self.num_layers, self.bias = opts.num_layers, opts.bias ~= false
  self.batch_first, self.dropout = opts.batch_first == true, opts.dropout
  self.bidirectional = opts.bidirectional == true
  self.num_directions = self.bidirectional and 2 or 1
  self._gates = gates
  local topts = { device = opts.device }
  for l = 0, self.num_layers - 1 do
    -- layers above the first read both directions' outputs, as PyTorch's (names as its too)
    local fin = l == 0 and input_size or hidden_size * self.num_directions
    for d = 1, self.num_directions do
      local sfx = l .. (d == 2 and '_reverse' or '')
      self['weight_ih_l' .. sfx] = Parameter(gb.empty({ gates * hidden_size, fin }, topts))
      self['weight_hh_l' .. sfx] = Parameter(gb.empty({ gates * hidden_size, hidden_size }, topts))
      if self.bias then
        self['bias_ih_l' .. sfx] = Parameter(gb.empty({ gates * hidden_size }, topts))
        self['bias_hh_l' .. sfx] = Parameter(gb.empty({ gates * hidden_size }, topts))
      end
    end
  end
end

-- PyTorch's init: every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
function R.reset(self)
  local bound = 1 / math.sqrt(self.hidden_size)
  for _, p in ipairs(self:parameters()) do init.uniform_(p, -bound, bound) end
end

local function shape_str(t) return '(' .. table.concat(t.shape, ', ') .. ')' end

-- Input as (T, B, F) with `batched` false for a 2-D (T, F) input.
function R.input(self, name, x)
  if not gb.is_tensor(x) then errors.raisef('%s: expected a tensor input, got %s', name, type(x)) end
  local d = x:dim()
  if (d ~= 2 and d ~= 3) or x:size(-1) ~= self.input_size then
    errors.raisef('%s: expected input of shape (T, B, %d)%s or (T, %d), got %s', name,
      self.input_size, self.batch_first and ' with batch_first as (B, T, F)' or '',
      self.input_size, shape_str(x))
  end
  if d == 2 then return x:unsqueeze(2), false end
  if self.batch_first then return x:transpose(1, 2), true end
  return x, true
end

-- An initial state (num_layers * num_directions, B, H) (or without B unbatched) checked, as
-- (L, B, H); nil when nil.
function R.state(self, name, what, s, x, batched)
  local L, B, H = self.num_layers * self.num_directions, x:size(2), self.hidden_size
  if s == nil then return nil end
  if not gb.is_tensor(s) then errors.raisef('%s: %s must be a tensor, got %s', name, what, type(s)) end
  if not batched then
    if s:dim() ~= 2 or s:size(1) ~= L or s:size(2) ~= H then
      errors.raisef('%s: expected %s of shape (%d, %d), got %s', name, what, L, H, shape_str(s))
    end
    return s:unsqueeze(2)
  end
  if s:dim() ~= 3 or s:size(1) ~= L or s:size(2) ~= B or s:size(3) ~= H then
    errors.raisef('%s: expected %s of shape (%d, %d, %d), got %s', name, what, L, B, H, shape_str(s))
  end
  return s
end

-- The input projections of all T steps in one product: (T, B, gates*H).
function R.project(x, w, b)
  local T, B = x:size(1), x:size(2)
  local flat = x:reshape(T * B, x:size(3))
  local y = b and gb.addmm(b, flat, w:t()) or flat:matmul(w:t())
  return y:view(T, B, w:size(1))
end

-- Between layers: dropout in training mode.
function R.between(self, out)
  if self.training and self.dropout > 0 then
    local keep = gb.rand_like(out):ge(self.dropout)
    return out * (keep * (1 / (1 - self.dropout)))
  end
  return out
end

-- Every layer and direction in PyTorch's order. run_dir(suffix, input (T, B, F), k) runs one
-- direction of one layer (parameters `<name>_l<suffix>`, initial state k of the (L*D, B, H)
-- ones) forwards in time and returns its output (T, B, H) and a list of its final states.
-- The reverse direction gets the input reversed in time and its output reversed back; a
-- layer's output is both directions' side by side (T, B, 2H). Returns the last layer's
-- output and, per final-state slot, the list over (layer, direction) to stack.
function R.layers(self, x3, run_dir)
  local T = x3:size(1)
  local rev = self.bidirectional and T > 1
    and gb.arange(T, 0, -1, { dtype = 'int64', device = x3.device }) or nil
  local out, finals = x3, {}
  for l = 0, self.num_layers - 1 do
    if l > 0 then out = R.between(self, out) end
    local outs = {}
    for d = 1, self.num_directions do
      local input = (d == 2 and rev) and out:index_select(1, rev) or out
      local o, f = run_dir(l .. (d == 2 and '_reverse' or ''), input, l * self.num_directions + d)
      outs[d] = (d == 2 and rev) and o:index_select(1, rev) or o
      for j, v in ipairs(f) do
        finals[j] = finals[j] or {}
        finals[j][#finals[j] + 1] = v
      end
    end
    out = #outs == 1 and outs[1] or gb.cat(outs, 3)
  end
  return out, finals
end

-- Output back to the caller's layout.
function R.output(self, out, batched)
  if not batched then return out:squeeze(2) end
  if self.batch_first then return out:transpose(1, 2) end
  return out
end

function R.final(s, batched)
  if not batched then return s:squeeze(2) end
  return s
end

function R.extra_repr(self)
  local s = self.input_size .. ', ' .. self.hidden_size
  if self.num_layers ~= 1 then s = s .. ', num_layers=' .. self.num_layers end
  if not self.bias then s = s .. ', bias=false' end
  if self.batch_first then s = s .. ', batch_first=true' end
  if self.dropout ~= 0 then s = s .. ', dropout=' .. self.dropout end
  if self.bidirectional then s = s .. ', bidirectional=true' end
  return s
end

return R
