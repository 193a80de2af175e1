from_script = 'set by ' .. 'script'
