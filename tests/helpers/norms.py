"""Batch-norm statistics that matter: fresh BN layers compute nearly the identity,
so a wrong eps, a missing norm or norms in the wrong order would go unseen."""
from __future__ import annotations


def randomise_norms(model, seed: int = 0, gamma: float = 1.0) -> None:
    """A torch model's BN layers get weights around `gamma`, small biases and
    running means, and variances in [0.5, 1.5). A wrong eps (1e-3 against 1e-5)
    alone shifts outputs by ~1e-3 relative at these variances."""
    import torch
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.copy_((torch.rand(m.weight.shape, generator=g) + 0.5) * gamma)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)


def randomise_keras_norms(model, seed: int = 0) -> None:
    """The same for a Keras model's BatchNormalization layers (top-level ones:
    keras.applications models are flat)."""
    import keras
    import numpy as np
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape), rng.normal(0, 0.1, b.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 1.5, var.shape)])


def randomise_weights(model, seed: int = 0) -> None:
    """Every parameter and norm statistic of a torch model away from its initial
    value, so layer norms, biases and zero-initialised convs matter as much as the
    kernels: 1-d tensors (norm weights, biases, variances) positive around 1,
    the others normal with std 0.3. Other buffers (a blur pool's fixed filter)
    are constants of their op, not weights: neither framework ports them, so
    they keep their values."""
    import torch
    g = torch.Generator().manual_seed(seed)
    statistics = [(n, b) for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var"))]
    with torch.no_grad():
        for _, t in [*model.named_parameters(), *statistics]:
            if t.dim() == 1:
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.3)
