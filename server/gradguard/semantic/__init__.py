"""The semantic model every rule and hover queries: what each name holds, where.

One catalogue of PyTorch facts (``catalogue``), control flow, flow-sensitive bindings,
abstract values with a field heap, function summaries and per-scope events. Rules ask
this model instead of following values themselves; unknown stays unknown (silent).
"""
