-- lira.paginate_url: RFC 3986 resolution of a reference against an absolute
-- URL, for the link strategy's next links (and lira.await's Location,
-- through lira.paginate.resolve). Internal to lira.paginate.
local M = {}

local function split_url(u)
  local scheme, rest = u:match("^(%a[%w+.%-]*):(.*)$")
  if not scheme then return nil end
  local authority, path = rest:match("^//([^/?#]*)(.*)$")
  return scheme, authority, path or rest
end

-- RFC 3986 §5.2.4 on an absolute path.
local function remove_dots(path)
  local out, segs = {}, {}
  for seg in path:gmatch("/([^/]*)") do segs[#segs + 1] = seg end
  for i, seg in ipairs(segs) do
    local last = i == #segs
    if seg == ".." then
      out[#out] = nil
      if last then out[#out + 1] = "" end
    elseif seg == "." then
      if last then out[#out + 1] = "" end
    else
      out[#out + 1] = seg
    end
  end
  return "/" .. table.concat(out, "/")
end

-- RFC 3986 §5.2 resolution of `ref` against the absolute URL `base`.
function M.resolve(base, ref)
  if split_url(ref) then return ref end
  local scheme, authority, bpath = split_url(base)
  if not scheme or not authority then return nil end
  bpath = bpath:gsub("#.*$", "")
  local bquery = bpath:match("%?.*$") or ""
  bpath = bpath:gsub("%?.*$", "")
  if ref:sub(1, 2) == "//" then return scheme .. ":" .. ref end
  local frag = ref:match("#.*$") or ""
  ref = ref:gsub("#.*$", "")
  local rquery = ref:match("%?.*$")
  local rpath = ref:gsub("%?.*$", "")
  local path
  if rpath == "" then
    path = bpath
    rquery = rquery or bquery
  elseif rpath:sub(1, 1) == "/" then
    path = remove_dots(rpath)
  else
    local dir = bpath:match("^(.*/)") or "/"
    if dir:sub(1, 1) ~= "/" then dir = "/" .. dir end
    path = remove_dots(dir .. rpath)
  end
  return scheme .. "://" .. authority .. path .. (rquery or "") .. frag
end

return M
