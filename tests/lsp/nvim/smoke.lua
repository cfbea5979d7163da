-- Headless Neovim (0.7+) as an independent LSP client of `gradguard server`.
-- Opens GG_FILE, waits for diagnostics, hovers the first, applies its
-- "Remove the None assignment" quick fix and checks the re-analysis.
vim.g.loaded_python3_provider = 0
local file, out, python = os.getenv("GG_FILE"), os.getenv("GG_OUT"), os.getenv("GG_PYTHON")
local result = {}
local function finish(ok, message)
  result.ok = ok
  result.message = message
  local handle = io.open(out, "w")
  handle:write(vim.fn.json_encode(result))
  handle:close()
  if ok then vim.cmd("qall!") else vim.cmd("cquit! 1") end
end

vim.cmd("edit " .. file)
local buf = vim.api.nvim_get_current_buf()
local client_id = vim.lsp.start_client({
  name = "gradguard",
  cmd = { python, "-m", "gradguard", "server" },
  root_dir = vim.fn.fnamemodify(file, ":h"),
  settings = { gradguard = { debounceMs = 50 } },
})
vim.lsp.buf_attach_client(buf, client_id)

local function gg201()
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if d.code == "GG201" or (d.user_data and d.user_data.lsp and d.user_data.lsp.code == "GG201") then
      return d
    end
  end
end

if not vim.wait(30000, function() return gg201() ~= nil end, 50) then
  return finish(false, "no GG201 diagnostic")
end
local d = gg201()
result.lnum, result.col, result.message_text = d.lnum, d.col, d.message

local uri = vim.uri_from_bufnr(buf)
local hover = vim.lsp.buf_request_sync(buf, "textDocument/hover", {
  textDocument = { uri = uri }, position = { line = d.lnum, character = d.col },
}, 10000)
for _, response in pairs(hover or {}) do
  if response.result then result.hover = response.result.contents.value end
end

local line_diagnostics = vim.lsp.diagnostic.get_line_diagnostics(buf, d.lnum)
local actions = vim.lsp.buf_request_sync(buf, "textDocument/codeAction", {
  textDocument = { uri = uri },
  range = { start = { line = d.lnum, character = 0 }, ["end"] = { line = d.lnum, character = 0 } },
  context = { diagnostics = line_diagnostics, only = { "quickfix" } },
}, 10000)
result.titles = {}
local chosen
for _, response in pairs(actions or {}) do
  for _, action in ipairs(response.result or {}) do
    table.insert(result.titles, action.title)
    if action.title == "GradGuard (GG201): Remove the None assignment" then chosen = action end
  end
end
if not chosen then return finish(false, "no remove-None quick fix") end
vim.lsp.util.apply_workspace_edit(chosen.edit, "utf-16")
result.text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
if not vim.wait(10000, function() return gg201() == nil end, 50) then
  return finish(false, "GG201 still reported after the fix")
end
finish(true, "ok")
