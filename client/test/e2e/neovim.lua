-- GradGuard through Neovim 0.7.2's built-in LSP client (an independent client):
-- diagnostics, hover, and a quick fix applied. Prints TAP; exits 0 only if all pass.
--
-- Environment: GRADGUARD_PYTHON (interpreter), GRADGUARD_PYTHONPATH (bundled/libs),
-- GRADGUARD_FILE (a copy of client/test/fixtures/workspace/train.py).
-- Run: nvim --headless --clean -u NONE -n -c "luafile neovim.lua"
-- (0.7.2 has vim.lsp.start_client + buf_attach_client, not vim.lsp.start.)

vim.g.loaded_python3_provider = 0

local python = os.getenv("GRADGUARD_PYTHON") or "python3"
local pythonpath = os.getenv("GRADGUARD_PYTHONPATH") or ""
local file = assert(os.getenv("GRADGUARD_FILE"), "GRADGUARD_FILE is not set")
local timeout = 30000

local passed, failed, n = 0, 0, 0
local function out(line)
  io.stdout:write(line .. "\n")
  io.stdout:flush()
end
local function check(name, ok, detail)
  n = n + 1
  if ok then
    passed = passed + 1
    out(("ok %d - %s"):format(n, name))
  else
    failed = failed + 1
    out(("not ok %d - %s"):format(n, name))
    if detail then
      out("  # " .. tostring(detail):gsub("\n", "\n  # "))
    end
  end
  return ok
end
local function finish()
  out(("1..%d"):format(n))
  out(("# neovim: %d passed, %d failed"):format(passed, failed))
  if failed > 0 then
    vim.cmd("cquit! 1")
  else
    vim.cmd("qall!")
  end
end

vim.cmd("edit " .. vim.fn.fnameescape(file))
vim.bo.filetype = "python"
local buf = vim.api.nvim_get_current_buf()
local root = vim.fn.fnamemodify(file, ":p:h")

local server_log = {}
local client_id = vim.lsp.start_client({
  name = "gradguard",
  cmd = { python, "-m", "gradguard", "server" },
  cmd_env = { PYTHONPATH = pythonpath },
  root_dir = root,
  workspace_folders = { { uri = vim.uri_from_fname(root), name = "workspace" } },
  init_options = { gradguard = { enable = true, run = "onType", debounceMs = 0 } },
  handlers = {
    ["window/logMessage"] = function(_, result)
      table.insert(server_log, result.message)
    end,
    ["window/showMessage"] = function(_, result)
      table.insert(server_log, "showMessage: " .. result.message)
    end,
  },
})
check("the server process starts (" .. python .. " -m gradguard server)", client_id ~= nil)
if not client_id then
  finish()
end
vim.lsp.buf_attach_client(buf, client_id)

local function line_of(pattern)
  for i, text in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
    if text:find(pattern, 1, true) then
      return i - 1
    end
  end
  return nil
end

local function diagnostic(code)
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if d.code == code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code == code) then
      return d
    end
  end
  return nil
end

-- 1. Diagnostics on the right lines.
local got = vim.wait(timeout, function()
  return diagnostic("GG102") ~= nil and diagnostic("GG201") ~= nil
end, 50)
local function describe_all()
  local parts = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    table.insert(parts, ("%s@%d: %s"):format(tostring(d.code), d.lnum + 1, d.message))
  end
  return table.concat(parts, "\n") .. "\nserver log:\n" .. table.concat(server_log, "\n")
end
check("diagnostics GG102 and GG201 arrive", got, describe_all())
local stale_line = line_of("model.fc = nn.Linear(4, 3)")
local none_line = line_of("model.backbone.bias = None")
local gg102, gg201 = diagnostic("GG102"), diagnostic("GG201")
check("GG102 is on the `model.fc = ...` line", gg102 and gg102.lnum == stale_line, describe_all())
check("GG201 is on the `model.backbone.bias = None` line", gg201 and gg201.lnum == none_line, describe_all())
check("GG102's message names the optimizer", gg102 and gg102.message:find("optimizer", 1, true) ~= nil)

-- 2. Hover on the GG201 line.
local hover = vim.lsp.buf_request_sync(buf, "textDocument/hover", {
  textDocument = { uri = vim.uri_from_bufnr(buf) },
  position = { line = none_line, character = 2 },
}, timeout)
local hover_text = ""
for _, response in pairs(hover or {}) do
  local contents = response.result and response.result.contents
  if type(contents) == "table" then
    hover_text = hover_text .. (contents.value or vim.inspect(contents))
  elseif type(contents) == "string" then
    hover_text = hover_text .. contents
  end
end
check("hover explains GG201", hover_text:find("GG201", 1, true) ~= nil and hover_text:find("None", 1, true) ~= nil, hover_text)

-- 3. The GG201 quick fix "Remove the None assignment", applied.
-- 0.7.2 keeps only the fields it did not convert (code, data, ...) in user_data.lsp:
-- rebuild the LSP diagnostic from both halves.
local function lsp_diagnostic(d)
  local out = vim.deepcopy((d.user_data and d.user_data.lsp) or {})
  out.range = { start = { line = d.lnum, character = d.col }, ["end"] = { line = d.end_lnum, character = d.end_col } }
  out.severity = d.severity
  out.message = d.message
  out.source = d.source
  out.code = out.code or d.code
  return out
end
local actions = vim.lsp.buf_request_sync(buf, "textDocument/codeAction", {
  textDocument = { uri = vim.uri_from_bufnr(buf) },
  range = gg201 and lsp_diagnostic(gg201).range or { start = { line = 0, character = 0 }, ["end"] = { line = 0, character = 0 } },
  context = { diagnostics = gg201 and { lsp_diagnostic(gg201) } or {}, only = { "quickfix" } },
}, timeout)
local chosen, titles = nil, {}
for _, response in pairs(actions or {}) do
  for _, action in ipairs(response.result or {}) do
    table.insert(titles, action.title)
    if action.title:find("Remove the None assignment", 1, true) then
      chosen = action
    end
  end
end
check("code actions offer `Remove the None assignment`", chosen ~= nil, table.concat(titles, "\n"))
if chosen and chosen.edit then
  vim.lsp.util.apply_workspace_edit(chosen.edit, "utf-16")
end
check("the fix removed the `None` assignment line", line_of("model.backbone.bias = None") == nil,
  table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n"))
check("the GG102 line is untouched", line_of("model.fc = nn.Linear(4, 3)") ~= nil)

-- 4. The server re-checks the edited text: GG201 is gone, GG102 stays.
local cleared = vim.wait(timeout, function()
  return diagnostic("GG201") == nil and diagnostic("GG102") ~= nil
end, 50)
check("after the edit GG201 is gone and GG102 remains", cleared, describe_all())

vim.lsp.stop_client(client_id)
finish()
