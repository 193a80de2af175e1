-- gpubp-scm-1.rockspec — gpubp as a LuaRocks package: the C module gpubp.core (the runtime,
-- CPU backend with OpenBLAS) and the Lua side (gpubp, gpubp.nn, gpubp.optim, gpubp.data),
-- built through CMake. From a clone: `luarocks make` (add `--tree DIR` for a local tree).
-- Needs Debian's cmake, pkg-config, liblua5.4-dev, libopenblas-dev, libjansson-dev,
-- zlib1g-dev and libedit-dev (scripts/setup.sh installs them); downloads nothing.
rockspec_format = "3.0"
package = "gpubp"
version = "scm-1"
source = {
  url = "git+file://.",
}
description = {
  summary = "Tensors, autograd, nn layers and optimizers for Lua 5.4, CPU and CUDA",
  detailed = [[
A scriptable deep-learning trainer: a C runtime with tensors, an autograd tape, nn layers,
optimizers and data loaders, usable from any Lua 5.4 host with require 'gpubp'.]],
  labels = { "deep-learning", "tensor", "autograd", "cuda" },
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    GPUBP_LUA_ROCK = "ON",
    GPUBP_CUDA = "OFF",
    GPUBP_INSTALL_LUADIR = "$(LUADIR)",
    GPUBP_INSTALL_CMODDIR = "$(LIBDIR)",
  },
}
