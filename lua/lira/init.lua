-- lira: resilient web-API integrations, driven from Lua.
-- This file is `require "lira"`; the C half is `lira.core`.
local core = require "lira.core"

local M = {}

M.version = core.version

return M
