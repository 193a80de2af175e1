-- tensor_methods.lua — tensor methods written in Lua on top of the core: norm, and the
-- gradient hooks register_hook / retain_grad (the tape calls them inside backward through
-- gb._grad_hooks; see runtime/gb_hooks.c). Installed into gb._tensor_methods by init.lua.

local check = require('gpubp.utils.check')
local options = require('gpubp.options')

-- sizes, dims and indices: an integer, or an integral float (n / 2) taken as one
local tointeger = options.tointeger

return function(gb)
  local M = gb._tensor_methods

  -- s^(1/p) with the gradient PyTorch's norm has at s = 0 (zero, not 0 * inf = NaN)
  local function root(s, p)
    local pos = s:gt(0)
    local safe = gb.where(pos, s, 1)
    local r = p == 2 and safe:sqrt() or safe ^ (1 / p)
    return gb.where(pos, r, 0)
  end

  -- t:norm([p=2 [, dim [, keepdim=false]]]): the p-norm over all elements or along dim;
  -- p may be math.huge (max of |t|), 'fro' (2) or any positive number. Differentiable,
  -- with a zero gradient at the zero vector (as PyTorch).
  function M.norm(t, p, dim, keepdim)
    p = p or 2
    if p == 'fro' then p = 2 end
    if type(p) ~= 'number' or p <= 0 or p ~= p then
      check.raise("norm: p must be a positive number, math.huge or 'fro', got " .. tostring(p))
    end
    local d = tointeger(dim)
    if dim ~= nil and d == nil then
      check.raise('norm: dim must be an integer, got ' .. tostring(dim))
    end
    dim = d
    if p == math.huge then
      local a = t:abs()
      if dim then return (a:max(dim, keepdim)) end
      return a:max()
    end
    if p == 1 then return t:abs():sum(dim, keepdim) end
    if p == 2 then return root((t * t):sum(dim, keepdim), 2) end
    return root((t:abs() ^ p):sum(dim, keepdim), p)
  end

  -- index i (1-based, or negative from the end) of a dim of size n, as 1..n; `what` names it
  local function position(v, n, what, dim)
    local i = tointeger(v)
    if i == nil then
      check.raise('slice: ' .. what .. ' must be an integer, got ' .. tostring(v))
    end
    local z = i < 0 and n + 1 + i or i
    if z < 1 or z > n then
      check.raise(string.format('slice: %s %d out of range for dimension %d of size %d '
        .. '(expected 1..%d or -%d..-1)', what, i, dim, n, n, n))
    end
    return z
  end

  -- t:slice(dim, start, stop [, step=1]): elements start, start+step, ... up to stop
  -- inclusive along dim (negative indices count from the end; stop < start gives an empty
  -- slice). step 1 is a view (narrow); a larger step copies (index_select). Differentiable.
  function M.slice(t, dim, start, stop, step)
    local nd, di = t:dim(), tointeger(dim)
    if di == nil or di == 0 or di > nd or di < -nd then
      check.raise(string.format('slice: dimension %s out of range for a %d-D tensor',
        tostring(dim), nd))
    end
    local d = di < 0 and nd + 1 + di or di
    local n = t:size(d)
    local by = step == nil and 1 or options.integer_at_least(step, 1)
    if not by then
      check.raise('slice: step must be a positive integer, got ' .. tostring(step))
    end
    step = by
    if n == 0 then return t:narrow(d, 1, 0) end
    local a = position(start, n, 'start', d)
    local b = position(stop, n, 'stop', d)
    if b < a then return t:narrow(d, a, 0) end
    if step == 1 then return t:narrow(d, a, b - a + 1) end
    return gb._slice(t, d, a, (b - a) // step + 1, step) -- a strided view
  end

  -- dim argument (default 1) of split/chunk as 1..nd
  local function split_dim(t, dim, what)
    local nd = t:dim()
    local d = dim == nil and 1 or tointeger(dim)
    if d == nil or d == 0 or d > nd or d < -nd then
      check.raise(string.format('%s: dimension %s out of range for a %d-D tensor', what,
        tostring(dim), nd))
    end
    return d < 0 and nd + 1 + d or d
  end

  -- t:split(size | {sizes}, [dim=1]): views of `size` elements along dim (the last one
  -- smaller), or of the given sizes, which must add up to the dim's size (torch.split).
  function M.split(t, sizes, dim)
    local d = split_dim(t, dim, 'split')
    local n, out = t:size(d), {}
    if tointeger(sizes) then
      if sizes < 1 then check.raise('split: size must be a positive integer, got ' .. sizes) end
      sizes = tointeger(sizes) -- 2.0 as 2
      if n == 0 then return { t:narrow(d, 1, 0) } end
      for at = 1, n, sizes do out[#out + 1] = t:narrow(d, at, math.min(sizes, n - at + 1)) end
      return out
    end
    if type(sizes) ~= 'table' then
      check.raise('split: expected a size or a table of sizes, got ' .. type(sizes))
    end
    -- the sizes checked and added up first, one pass over 1..#sizes (a table whose __index
    -- answers every key would make an ipairs loop endless), then the views
    local len, total, ints = #sizes, 0, {}
    for i = 1, len do
      local v = sizes[i]
      ints[i] = options.integer_at_least(v, 0)
      if not ints[i] then
        check.raise('split: size ' .. i .. ' must be a non-negative integer, got ' .. tostring(v))
      end
      total = total + ints[i]
    end
    if total ~= n then
      check.raise(string.format('split: sizes add up to %d but dimension %d has size %d',
        total, d, n))
    end
    local at = 1
    for i = 1, len do
      out[i] = t:narrow(d, at, ints[i])
      at = at + ints[i]
    end
    return out
  end

  -- an empty dim gives n empty views, as torch.chunk does; a list of them, so n is capped
  -- (2^44 views would fill the memory for minutes before failing)
  local EMPTY_CHUNKS_MAX = 1 << 20

  -- t:chunk(n, [dim=1]): at most n views of ceil(size / n) elements along dim (torch.chunk)
  function M.chunk(t, n, dim)
    local d = split_dim(t, dim, 'chunk')
    local pieces = options.integer_at_least(n, 1)
    if not pieces then
      check.raise('chunk: the number of chunks must be a positive integer, got ' .. tostring(n))
    end
    n = pieces
    local size = t:size(d)
    if size == 0 then
      if n > EMPTY_CHUNKS_MAX then
        check.raise(string.format('chunk: %d chunks of an empty dimension are too many (at most 2^20)', n))
      end
      local out = {}
      for i = 1, n do out[i] = t:narrow(d, 1, 0) end
      return out
    end
    return M.split(t, (size + n - 1) // n, d)
  end

  -- t:equal(u): true when u is a tensor of the same shape with the same values (NaN is
  -- never equal, as torch.equal). `t == u` is identity (Lua compares userdata by reference).
  function M.equal(t, u)
    if not gb.is_tensor(u) then
      check.raise('equal: expected a tensor, got ' .. type(u))
    end
    if t:dim() ~= u:dim() then return false end
    for i = 1, t:dim() do
      if t:size(i) ~= u:size(i) then return false end
    end
    if t:numel() == 0 then return true end
    if t.device ~= u.device then u = u:to(t.device) end
    local a, b = t, u
    if a.dtype ~= b.dtype then a, b = a:float(), b:float() end
    return gb.no_grad(function() return a:ne(b):sum():item() == 0 end)
  end

  -- t:register_hook(fn): fn(grad) runs inside backward when the gradient of t is ready
  -- (for a leaf, each time a gradient reaches it, before it is added to .grad); returning
  -- a tensor replaces the gradient. Returns a handle with :remove().
  function M.register_hook(t, fn)
    if type(fn) ~= 'function' then
      check.raise('register_hook: expected a function, got ' .. type(fn))
    end
    local ok, id = pcall(gb._hook_id, t)
    if not ok then check.raise((tostring(id):gsub('^[^\n]-:%d+: ', ''))) end
    local hooks = gb._grad_hooks()
    local list = hooks[id]
    if not list then
      list = {}
      hooks[id] = list
    end
    list[#list + 1] = fn
    local idx = #list
    return { remove = function() list[idx] = false end }
  end

  local retaining = setmetatable({}, { __mode = 'k' })

  -- t:retain_grad(): a non-leaf keeps its gradient in t.grad after backward (accumulating
  -- over several backward calls, like a leaf). A no-op on leaves. Returns t.
  function M.retain_grad(t)
    if t.is_leaf or retaining[t] then return t end
    if not t.requires_grad then
      check.raise('retain_grad: the tensor does not require grad')
    end
    retaining[t] = true
    local ref = setmetatable({ t }, { __mode = 'v' }) -- the hook must not keep t alive
    M.register_hook(t, function(g)
      local x = ref[1]
      if x then
        local old = x.grad
        x.grad = old and old + g or g:clone()
      end
    end)
    return t
  end

  gb.split, gb.chunk = M.split, M.chunk

  -- gb.one_hot(labels [, num_classes]): int64 (..., C) with a 1 at each label (labels 1..C,
  -- an int32 or int64 tensor); C defaults to the largest label (torch.nn.functional.one_hot,
  -- counting from 1).
  function gb.one_hot(labels, num_classes)
    if not gb.is_tensor(labels) or labels.dtype == 'float32' or labels.dtype == 'float64' then
      check.raise('one_hot: labels must be an int64 or int32 tensor, got '
        .. (gb.is_tensor(labels) and labels.dtype or type(labels)))
    end
    local lab = labels.dtype == 'int64' and labels or labels:long()
    if num_classes ~= nil and num_classes ~= -1 then
      local c = options.integer_at_least(num_classes, 1)
      if not c then
        check.raise('one_hot: num_classes must be a positive integer, got ' .. tostring(num_classes))
      end
      num_classes = c
    end
    local n = lab:numel()
    local lo = n > 0 and lab:min():item() or 1
    local hi = n > 0 and lab:max():item() or 0
    local c = (num_classes == nil or num_classes == -1) and hi or num_classes
    if n == 0 and c < 1 then check.raise('one_hot: num_classes is needed for empty labels') end
    if lo < 1 or hi > c then
      local bad = lo < 1 and lo or hi
      check.raise(string.format('one_hot: label %d is out of range 1..%d', bad, c))
    end
    local classes = gb.arange(1, c + 1, { dtype = 'int64', device = lab.device })
    return lab:unsqueeze(-1):eq(classes):long()
  end
end
