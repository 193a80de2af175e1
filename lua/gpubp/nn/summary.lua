-- nn/summary.lua — nn.utils.summary(model, input_shape): runs one forward pass on zeros
-- (no grad, eval mode, training flags restored) with forward hooks on every module, and
-- prints each layer's output shape and parameter count, as torchinfo does.

local check = require('gpubp.utils.check')
local options = require('gpubp.options')
local gb = require('gpubp.class').gb

local function shape_of(v)
  if gb.is_tensor(v) then return '(' .. table.concat(v.shape, ',') .. ')' end
  if type(v) == 'table' then
    local parts = {}
    for i = 1, (v.n or #v) do parts[#parts + 1] = shape_of(v[i]) end
    return table.concat(parts, ' ')
  end
  return type(v)
end

local function group_digits(n)
  local s = tostring(n)
  local out = s:reverse():gsub('(%d%d%d)', '%1,'):reverse()
  return (out:gsub('^,', ''))
end

-- summary(model, input_shape | tensor | {shape, shape...} [, {dtype=<default dtype>, depth=8,
-- quiet=false, file=io.stdout}]) -> {rows = {{name=, type=, depth=, output_shape=,
-- params=}...}, total_params=, trainable_params=, text=}
local function summary(model, input, opts)
  if type(model) ~= 'table' or type(model.named_modules) ~= 'function' then
    check.raise('summary: expected a Module, got ' .. type(model))
  end
  local o = check.options('summary', opts, { dtype = check.NONE, depth = 8, quiet = false,
    file = check.NONE, device = check.NONE })
  local inputs = {}
  if gb.is_tensor(input) then
    inputs[1] = input
  elseif type(input) == 'table' and type(input[1]) == 'table' then
    for i, s in ipairs(input) do inputs[i] = gb.zeros(s, { dtype = o.dtype, device = o.device }) end
  elseif type(input) == 'table' and options.tointeger(input[1]) then
    inputs[1] = gb.zeros(input, { dtype = o.dtype, device = o.device })
  else
    check.raise('summary: expected an input shape (a table of sizes), a tensor or a list of shapes')
  end
  local rows, handles, depth_of = {}, {}, {}
  for _, nm in ipairs(model:named_modules()) do
    local name, m = nm[1], nm[2]
    local depth = name == '' and 0 or select(2, name:gsub('%.', '')) + 1
    depth_of[m] = depth
    local own = 0
    local reg = rawget(m, '_parameters')
    for _, n in ipairs(reg.names) do own = own + reg.map[n]:numel() end
    local row = { name = name == '' and '' or name, type = m.class_name(m), depth = depth,
                  params = own, recursive = m:num_parameters(), output_shape = '-' }
    rows[#rows + 1] = row
    handles[#handles + 1] = m:register_forward_hook(function(_, _, out)
      row.output_shape = shape_of(out)
    end)
  end
  local modes = {}
  for _, m in ipairs(model:modules()) do modes[m] = rawget(m, 'training') end
  model:eval()
  local ok, err = pcall(gb.no_grad, function() return model(table.unpack(inputs)) end)
  for _, h in ipairs(handles) do h.remove() end
  for m, t in pairs(modes) do rawset(m, 'training', t) end
  if not ok then check.raise('summary: the forward pass failed: ' .. tostring(err)) end
  local total, trainable = 0, 0
  for _, p in ipairs(model:parameters()) do
    total = total + p:numel()
    if p.requires_grad then trainable = trainable + p:numel() end
  end
  local lines, shown = {}, {}
  for _, r in ipairs(rows) do
    if r.depth <= o.depth then shown[#shown + 1] = r end
  end
  local w1, w2 = #'Layer (type)', #'Output shape'
  local cells = {}
  for i, r in ipairs(shown) do
    local label = string.rep('  ', r.depth) .. (r.name ~= '' and (r.name:match('[^.]*$') .. ': ') or '') .. r.type
    local params = (r.depth == 0 or r.params == 0 and r.recursive > 0) and group_digits(r.recursive)
      or group_digits(r.params)
    cells[i] = { label, r.output_shape, params }
    w1, w2 = math.max(w1, #label), math.max(w2, #r.output_shape)
  end
  local function line(a, b, c)
    lines[#lines + 1] = a .. string.rep(' ', w1 - #a + 2) .. b .. string.rep(' ', w2 - #b + 2)
      .. string.rep(' ', math.max(0, 11 - #c)) .. c
  end
  local rule = string.rep('=', w1 + w2 + 15)
  lines[#lines + 1] = rule
  line('Layer (type)', 'Output shape', 'Param #')
  lines[#lines + 1] = rule
  for _, c in ipairs(cells) do line(c[1], c[2], c[3]) end
  lines[#lines + 1] = rule
  lines[#lines + 1] = 'Total params: ' .. group_digits(total)
  lines[#lines + 1] = 'Trainable params: ' .. group_digits(trainable)
  lines[#lines + 1] = 'Non-trainable params: ' .. group_digits(total - trainable)
  lines[#lines + 1] = string.format('Input shape: %s', shape_of(inputs))
  lines[#lines + 1] = rule
  local text = table.concat(lines, '\n')
  if not o.quiet then (o.file or io.stdout):write(text, '\n') end
  return { rows = rows, total_params = total, trainable_params = trainable, text = text }
end

return summary
