-- lira.config(name[, default]): a setting from the environment.
--
-- A variable that is unset OR EMPTY counts as missing: `SHOP_URL=` in a
-- deployment is almost always a mistake, and the error then names it
-- instead of a client failing later on an empty URL. When missing, the
-- default is returned if one was passed (even an explicit nil: pass nil for
-- an optional setting), else an error naming the variable is raised.
-- Values are strings, as in the environment (convert with tonumber).
local M = {}

-- M.getenv is what is read (the runtime may later put its config file in
-- front of the environment; tests may replace it).
M.getenv = os.getenv

function M.get(name, ...)
  if type(name) ~= "string" or name == "" or name:find("[=%z]") then
    error(("bad argument #1 to 'lira.config' (variable name expected, got %s)"):format(
      type(name) == "string" and ("%q"):format(name) or type(name)), 2)
  end
  local v = M.getenv(name)
  if v ~= nil and v ~= "" then return v end
  if select("#", ...) > 0 then return (...) end
  if v == "" then
    error(("lira.config: environment variable %s is empty"):format(name), 2)
  end
  error(("lira.config: environment variable %s is not set"):format(name), 2)
end

return M
