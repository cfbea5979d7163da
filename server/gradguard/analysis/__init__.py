"""Facts about one Python file that rules read: imports, classes, flow.

Nothing here knows about LSP or the command line.
"""
