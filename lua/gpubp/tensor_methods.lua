-- tensor_methods.lua — tensor methods written in Lua on top of the core: norm, and the
-- gradient hooks register_hook / retain_grad (the tape calls them inside backward through
-- gb._grad_hooks; see runtime/gb_hooks.c). Installed into gb._tensor_methods by init.lua.

local check = require('gpubp.utils.check')

return function(gb)
  local M = gb._tensor_methods

  -- t:norm([p=2 [, dim [, keepdim=false]]]): the p-norm over all elements or along dim;
  -- p may be math.huge (max of |t|) or any positive number.
  function M.norm(t, p, dim, keepdim)
    p = p or 2
    if type(p) ~= 'number' or p <= 0 or p ~= p then
      check.raise('norm: p must be a positive number or math.huge, got ' .. tostring(p))
    end
    if p == math.huge then
      local a = t:abs()
      if dim then return (a:max(dim, keepdim)) end
      return a:max()
    end
    if p == 2 then
      return (t * t):sum(dim, keepdim):sqrt()
    end
    if p == 1 then return t:abs():sum(dim, keepdim) end
    return (t:abs() ^ p):sum(dim, keepdim) ^ (1 / p)
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
end
