"""The one catalogue of PyTorch facts (measured on torch 2.13.0), one topic a module.

Every set of layer names, leaf-keeping and leaf-breaking methods, move and cast methods,
factories, optimizers, schedulers, scalers and clipping functions is written once here.
"""
