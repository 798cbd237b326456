"""Shipped specs the Keras backend does not build yet: the one list the Keras-side
generic tests (tests/test_cross_framework.py, tests/backends/test_keras_emit.py)
leave out, each with why, so what the Keras wiring of issue 22 must still cover
stays in sight. A spec leaves this list when its Keras build is wired: the test
that each one is refused with a located error (test_keras_emit) says when.

The torch-side generic tests (test_torch_shapes, test_torch_jit, test_torch_emit)
and the timm parity test run them all."""

KERAS_PENDING = {
    "skresnet18": "dilated conv, split, softmax across paths",
    "skresnext50_32x4d": "dilated conv, softmax across paths",
    "resnest14d": "split, softmax across paths",
    "resnest50d": "split, softmax across paths",
    "res2net50_26w_4s": "split, concat",
    "res2next50": "split, concat",
    "gcresnet50t": "softmax over positions, attention_pool, layer norm",
    "resnetv2_50x1_bit": "weight-standardised conv",
    "resnetblur50": "blur_pool",
}


def keras_ready(names) -> list[str]:
    """`names` without the pending ones."""
    return [n for n in names if n not in KERAS_PENDING]
