-- utils/grid_search.lua — gb.utils.grid_search: runs a user's training function over every
-- combination of a grid (lr x other options x seeds), prints a results table and returns it,
-- with the mean over seeds of each setting and the best setting.

local check = require('gpubp.utils.check')
local gb = require('gpubp.class').gb

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
  return ks
end

local function fmt(v)
  if type(v) ~= 'number' then return tostring(v) end
  if math.type(v) == 'integer' then return tostring(v) end
  if v ~= v then return 'nan' end
  return string.format('%.4g', v)
end

local function print_table(file, header, rows)
  local w = {}
  for i, h in ipairs(header) do w[i] = #h end
  for _, r in ipairs(rows) do
    for i, c in ipairs(r) do w[i] = math.max(w[i], #c) end
  end
  local function line(cells)
    local out = {}
    for i, c in ipairs(cells) do out[i] = string.rep(' ', w[i] - #c) .. c end
    file:write(table.concat(out, '  '), '\n')
  end
  line(header)
  local rule = {}
  for i = 1, #header do rule[i] = string.rep('-', w[i]) end
  line(rule)
  for _, r in ipairs(rows) do line(r) end
end

-- grid_search(fn, grid [, {metric=, mode='min'|'max', quiet=false, file=io.stdout}])
-- grid: {name = {values...}, ...}; a `seed` entry seeds gb.manual_seed before each run.
-- fn(config) returns a number or a table of numbers (metric names the one to rank by; the
-- default is 'loss', else the number returned, else the first name in sorted order). Runs that raise are recorded with the error.
-- Returns {runs = {{config=, metrics=, value=, error=}...}, settings = {{config= (no seed),
-- value= (mean over seeds), values=, n=}...} sorted best first, best = settings[1]}.
local function grid_search(fn, grid, opts)
  if type(fn) ~= 'function' then check.raise('grid_search: expected a training function, got ' .. type(fn)) end
  if type(grid) ~= 'table' or next(grid) == nil then
    check.raise('grid_search: expected a grid {name = {values...}, ...}')
  end
  local o = check.options('grid_search', opts, { metric = check.NONE, mode = 'min', quiet = false,
    file = check.NONE })
  if o.mode ~= 'min' and o.mode ~= 'max' then
    check.raise("grid_search: mode must be 'min' or 'max', got " .. tostring(o.mode))
  end
  local names = sorted_keys(grid)
  for _, k in ipairs(names) do
    if type(grid[k]) ~= 'table' or #grid[k] == 0 then
      check.raise(string.format("grid_search: grid entry '%s' must be a non-empty list", tostring(k)))
    end
  end
  local file = o.file or io.stdout
  -- every combination, the last name varying fastest
  local combos = { {} }
  for _, k in ipairs(names) do
    local next_combos = {}
    for _, c in ipairs(combos) do
      for _, v in ipairs(grid[k]) do
        local d = {}
        for kk, vv in pairs(c) do d[kk] = vv end
        d[k] = v
        next_combos[#next_combos + 1] = d
      end
    end
    combos = next_combos
  end
  local runs, metric_names, seen_metric = {}, {}, {}
  for _, config in ipairs(combos) do
    if config.seed ~= nil then gb.manual_seed(config.seed) end
    local arg = {}
    for k, v in pairs(config) do arg[k] = v end
    local ok, res = pcall(fn, arg)
    local run = { config = config, metrics = {} }
    if not ok then
      run.error = tostring(res)
    elseif type(res) == 'number' then
      run.metrics.value = res
    elseif type(res) == 'table' then
      for k, v in pairs(res) do
        if type(v) == 'number' then run.metrics[k] = v end
      end
    else
      run.error = 'the training function returned a ' .. type(res) .. ', not a number or a table'
    end
    for _, k in ipairs(sorted_keys(run.metrics)) do
      if not seen_metric[k] then seen_metric[k] = true; metric_names[#metric_names + 1] = k end
    end
    runs[#runs + 1] = run
    if not o.quiet and run.error then file:write('grid_search: run failed: ', run.error, '\n') end
  end
  table.sort(metric_names)
  local metric = o.metric or (seen_metric.loss and 'loss') or (seen_metric.value and 'value')
    or metric_names[1]
  if metric == nil then check.raise('grid_search: every run failed; first error: ' .. tostring(runs[1].error)) end
  local sign = o.mode == 'min' and 1 or -1
  local settings, by_key = {}, {}
  for _, run in ipairs(runs) do
    local v = run.metrics[metric]
    run.value = v
    local parts = {}
    for _, k in ipairs(names) do
      if k ~= 'seed' then parts[#parts + 1] = k .. '=' .. tostring(run.config[k]) end
    end
    local key = table.concat(parts, ',')
    local s = by_key[key]
    if not s then
      local cfg = {}
      for k, vv in pairs(run.config) do if k ~= 'seed' then cfg[k] = vv end end
      s = { config = cfg, values = {}, n = 0 }
      by_key[key] = s
      settings[#settings + 1] = s
    end
    -- a failed or non-finite run ranks its setting last
    local x = (v ~= nil and v == v) and v or (sign > 0 and math.huge or -math.huge)
    s.values[#s.values + 1] = x
    s.n = s.n + 1
  end
  for _, s in ipairs(settings) do
    local sum = 0
    for _, x in ipairs(s.values) do sum = sum + x end
    s.value = sum / s.n
    local var = 0
    for _, x in ipairs(s.values) do var = var + (x - s.value) ^ 2 end
    s.std = s.n > 1 and math.sqrt(var / (s.n - 1)) or 0
  end
  table.sort(settings, function(a, b) return sign * a.value < sign * b.value end)
  local result = { runs = runs, settings = settings, best = settings[1], metric = metric }
  if not o.quiet then
    local header, rows = {}, {}
    for _, k in ipairs(names) do header[#header + 1] = k end
    for _, m in ipairs(metric_names) do header[#header + 1] = m end
    for _, run in ipairs(runs) do
      local r = {}
      for _, k in ipairs(names) do r[#r + 1] = fmt(run.config[k]) end
      for _, m in ipairs(metric_names) do r[#r + 1] = run.metrics[m] and fmt(run.metrics[m]) or (run.error and 'error' or '') end
      rows[#rows + 1] = r
    end
    print_table(file, header, rows)
    if grid.seed and #grid.seed > 1 then
      file:write(string.format('\nmean %s over %d seeds, best first:\n', metric, #grid.seed))
      local h2, r2 = {}, {}
      for _, k in ipairs(names) do if k ~= 'seed' then h2[#h2 + 1] = k end end
      h2[#h2 + 1] = metric
      h2[#h2 + 1] = 'std'
      for _, s in ipairs(settings) do
        local r = {}
        for _, k in ipairs(names) do if k ~= 'seed' then r[#r + 1] = fmt(s.config[k]) end end
        r[#r + 1] = fmt(s.value)
        r[#r + 1] = fmt(s.std)
        r2[#r2 + 1] = r
      end
      print_table(file, h2, r2)
    end
    local parts = {}
    for _, k in ipairs(names) do
      if k ~= 'seed' then parts[#parts + 1] = k .. '=' .. fmt(result.best.config[k]) end
    end
    file:write(string.format('best: %s (%s %s)\n', table.concat(parts, ' '), metric, fmt(result.best.value)))
  end
  return result
end

return grid_search
