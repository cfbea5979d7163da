"""Notebook documents: the code cells of a notebook analysed as one program.

Joining, IPython masking (``%%bash`` cells left out, ``%time``, ``!pip``, ``x?``
masked) and the cell/line mapping live in :mod:`gradguard.notebook`, shared with the
command line; a cell's key here is its document URI.
"""

from __future__ import annotations

from gradguard.notebook import CellSlice, JoinedCells, join_cells

NotebookProgram = JoinedCells
__all__ = ["CellSlice", "NotebookProgram", "build_program"]


def build_program(cells: list[tuple[str, int, str]]) -> NotebookProgram:
    """``cells``: (uri, version, text) of the code cells, in notebook order."""
    return join_cells([(uri, text) for uri, _version, text in cells])
