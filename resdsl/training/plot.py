"""The comparison picture: training loss and validation error against epoch,
every run on the same two axes, as the paper's Figure 6 puts plain and
residual nets side by side. Written as SVG and PNG."""
from __future__ import annotations

from pathlib import Path

from ..io import atomic_write


def plot_curves(runs, stem: Path, plain: set[str] = frozenset()) -> list[Path]:
    try:
        import matplotlib
    except ImportError:
        from .config import TrainError
        raise TrainError("drawing the curves needs matplotlib", "pip install 'resdsl[train]'") from None
    matplotlib.use("Agg")  # no display needed; also safe on a headless GPU machine
    import io

    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_err) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, h in enumerate(runs):
        epochs = [r["epoch"] for r in h.rows]
        # the paper draws plain nets and ResNets apart; dashed = no shortcut anywhere
        style = "--" if h.spec in plain else "-"
        label = f"{h.spec} ({h.backend})"
        colour = colours[i % len(colours)]
        ax_loss.plot(epochs, [r["train_loss"] for r in h.rows], style, color=colour, marker="o", ms=3,
                     label=label)
        ax_err.plot(epochs, [100 * (1 - r["val_acc"]) for r in h.rows], style, color=colour, marker="o", ms=3,
                    label=f"{label}: {100 * (1 - h.rows[-1]['val_acc']):.2f}%")
    ax_loss.set(xlabel="epoch", ylabel="training loss (cross-entropy)", title="Training loss")
    ax_err.set(xlabel="epoch", ylabel="validation error (%)", title="Validation error (final in legend)")
    for ax in (ax_loss, ax_err):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        ax.xaxis.get_major_locator().set_params(integer=True)
    written = []
    for fmt in ("svg", "png"):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=120)
        path = stem.with_suffix(f".{fmt}")
        atomic_write(path, buf.getvalue(), force=True)
        written.append(path)
    plt.close(fig)
    return written
