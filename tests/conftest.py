"""Suite-wide setup.

TensorFlow 2.21 and the Triton that torch 2.14 loads for its compiler stack both
carry their own LLVM; loading Triton after TensorFlow segfaults the process
(seen at collection, when one test module imports keras and a later one
torchvision). Loading torch's compiler stack first avoids it, so do that once,
before any test module is imported.
"""
try:
    import torch._dynamo  # noqa: F401
except ImportError:  # torch is an optional extra; core tests run without it
    pass
