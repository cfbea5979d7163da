"""The separate checks GG101 holds, one module each, all queries over the semantic model.

Each check is a function ``check(checker, creation) -> Iterator[Finding]`` over one
optimizer construction (``exhausted`` runs over the file's one-shot iterators instead);
``base.Checker`` carries what they share (the rule, the file, ``semantic.kinds.Kinds``,
the messages). The rule module runs them in order and stops at the first finding for a
construction, so each construction gets one diagnosis:

- ``wrong_kind``: an empty literal, ``model.parameters`` without the call, a module
  (also one the file's callers pass to an optimizer wrapper), a single tensor, and the
  same inside parameter-group dicts;
- ``contents``: a dict, ``state_dict().values()``, non-leaf tensor elements;
- ``star_chain``: ``itertools.chain(*model.parameters(), w)`` (the rows of each
  parameter, non-leaf views);
- ``no_parameters``: ``model.parameters()`` of a model whose layers keep their weights
  as buffers (``register_buffer``), so it has none;
- ``frozen_filter``: a ``requires_grad`` filter right after every parameter was frozen;
- ``exhausted``: a one-shot iterator consumed twice;
- ``add_param_group_move``: the fix for ``SGD([])`` followed by ``add_param_group``.
"""
