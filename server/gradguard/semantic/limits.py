"""The engine's bounds, each defined once.

``CALL_DEPTH``: how many calls deep the engine follows a same-file (or workspace)
function or method, a helper calling a helper calling a factory: return-value
summaries (``values``), replacements made through helpers (``replacements``), the
training-step helpers a loop runs (``step_calls``), what a function's tensors are
(``tensor_kinds``), and the layers a module is built with, each a constructor followed
into (``gradients``, ``parameter_free``). Past it a call is unknown, and unknown stays
silent.

``NAME_DEPTH``: how many steps one value is followed within a scope, through names
bound to names, elements of nested containers, and the sub-expressions that carry it
(``x = y; y = z``, ``[[a, b]]``, ``loss.mean() * 2``): ``plain_tensors``,
``containers``, ``grad_values``, ``per_iteration``. Past it the value is unknown.

``METHOD_DEPTH``: how many method calls deep a trainer's fields are followed through
the code using the object (``trainer.fit()`` -> ``train_epoch`` -> ``step``): the uses
of an optimizer an object holds (``held_optimizers``), the moves its methods make
(``trainer.to()`` -> ``self.model.to()``, ``object_optimizers``) and the
field touches of another workspace module's class (``workspace_classes``).

A very long chain of rebindings is also cut by ``values.MAX_NESTING`` (evaluations under
way at once), a guard against Python's recursion limit, not a reach.
"""

CALL_DEPTH = 4
NAME_DEPTH = 6
METHOD_DEPTH = 3
