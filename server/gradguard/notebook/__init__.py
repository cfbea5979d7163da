"""Jupyter notebooks (nbformat 4) as one Python program, shared by the CLI and the server
(nothing here knows of LSP): :mod:`.masking` (IPython syntax, ruff's rules),
:mod:`.cells` (joining cells, mapping positions and edits back) and :mod:`.ipynb`
(reading the file and writing code cells back byte for byte).
"""

from __future__ import annotations

from gradguard.notebook.cells import (
    CellSlice,
    JoinedCells,
    apply_placeable,
    edit_cells,
    join_cells,
    without_final_line_break,
)
from gradguard.notebook.ipynb import NOTEBOOK_SUFFIX, Notebook, NotebookError, parse_notebook
from gradguard.notebook.masking import mask_cell

__all__ = [
    "NOTEBOOK_SUFFIX",
    "CellSlice",
    "JoinedCells",
    "Notebook",
    "NotebookError",
    "apply_placeable",
    "edit_cells",
    "join_cells",
    "mask_cell",
    "parse_notebook",
    "without_final_line_break",
]
