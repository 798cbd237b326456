"""One short GPU check of what CPU machines cannot show: (a) resdsl's resnet50
against torchvision's — training-step and inference throughput with AMP and
channels_last, taking turns in one process, and equal fp32 outputs; (b)
`resdsl.train` with the torch backend on CUDA with --amp: the loss falls, and a
run stopped by Ctrl-C in the middle of an epoch resumes to the weights of an
uninterrupted one; (c) the same with the Keras backend, Keras running on its
torch backend (no TensorFlow needed) with mixed precision; (d) BatchNorm folded
into the convs gives the unfolded model's outputs on the GPU; (e) training
images/s of `resdsl.train`'s loop against a bare loop (torch) and a bare
`model.fit` (Keras) on the same model and batch, with AMP (issue 11's 0.97
target, bench/train_throughput.py's two sides).

On the device (repository root; torch, torchvision and timm installed, no
TensorFlow). First, here: `mkdir -p .whl && cp /work/notes/whl/*.whl .whl/`
(.whl/ is git-ignored: keras 3.15.1 with namex and optree, which Keras needs
beyond what the device has, and pydantic with its core, annotated-types,
typing-inspection, typing-extensions and tqdm, in case resdsl's own needs are
missing there; optree and pydantic-core for CPython 3.11, 3.12 and 3.13 — pip
skips the ones that do not fit). Then the run tool, carry [".whl"],
timeout_s 480, command:

    for w in .whl/*.whl; do python -m pip install -q --no-deps --target /tmp/site "$w" >/dev/null 2>&1 \
      || echo "skipped $w"; done
    PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=torch timeout 420 python bench/gpu_check.py

About 3 minutes on an H100/H200 by estimate from the CPU smoke run (not yet
measured on one): (a) ~1 min, (b), (c) and (e) under a minute each, (d)
seconds, plus imports. It prints one summary and, where $OUT is set, writes
$OUT/gpu_check.json and $OUT/gpu_check.txt. A part that fails is reported (its
traceback's end in the JSON) and the others still run; the exit status is 1
when any part failed. `--parts bc` reruns only some parts.

    python bench/gpu_check.py --smoke     # the same code, small and on the CPU (a minute or two)

Without CUDA and without --smoke it says so and exits 0. Figures of (a) are
medians over interleaved rounds; (b)/(c) run with deterministic kernels, so
"resume max |diff|" 0 means bit for bit; a non-zero figure is printed beside the
difference between two uninterrupted runs (the kernels' own noise).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")         # the device has no TensorFlow
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS for (b)/(c); set before CUDA starts

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "training")]  # resdsl, and the tests' CIFAR-format maker

import numpy as np  # noqa: E402
import torch  # noqa: E402


# ---------------------------------------------------------------- (a) throughput
def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, steps: int, dev) -> float:
    """Seconds per step over `steps` steps, device work included."""
    _sync(dev)
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    _sync(dev)
    return (time.perf_counter() - t) / steps


def interleaved(fns: dict, rounds: int, steps: int, warmup: int, dev) -> dict[str, list[float]]:
    """Per-step seconds of each function, round by round, the functions taking turns."""
    for fn in fns.values():
        timed(fn, warmup, dev)  # cudnn.benchmark picks its algorithms here
    per_step: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            per_step[name].append(timed(fn, steps, dev))
    return per_step


def strict_fp32():
    """No TF32 in convs and matmuls: 'equal in fp32' means float32 arithmetic."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


def randomise_norms(model, seed: int = 0):
    """BatchNorm statistics as after training (fresh ones are 0/1 and hide mistakes)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) * 0.4 - 0.2)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)


def part_a(a, dev) -> dict:
    import torchvision

    import resdsl
    cl = torch.channels_last
    torch.backends.cudnn.benchmark = True
    dtype = getattr(torch, a.amp)
    torch.manual_seed(0)
    tv = torchvision.models.resnet50()
    randomise_norms(tv)
    ours = resdsl.build("resnet50")
    ours.load_state_dict(tv.state_dict(), strict=True)
    models = {"torchvision": tv, "resdsl": ours}
    for m in models.values():
        m.to(dev, memory_format=cl)

    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    strict_fp32()
    x = torch.randn(4, 3, a.size, a.size, device=dev).to(memory_format=cl)
    with torch.no_grad():
        ref = tv.eval()(x)
        diff = (ours.eval()(x) - ref).abs().max().item()
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32  # the speed figures: defaults

    images = torch.randn(a.batch, 3, a.size, a.size, device=dev).to(memory_format=cl)
    labels = torch.randint(0, 1000, (a.batch,), device=dev)
    use_amp = dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and a.amp == "float16")

    def train_step(model, opt):
        def step():
            with torch.autocast(dev.type, dtype=dtype, enabled=use_amp):
                loss = torch.nn.functional.cross_entropy(model(images), labels)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        return step

    def infer_step(model):
        def step():
            with torch.no_grad(), torch.autocast(dev.type, dtype=dtype, enabled=use_amp):
                model(images)
        return step

    for m in models.values():
        m.train()
    train = {k: train_step(m, torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)) for k, m in models.items()}
    t_train = interleaved(train, a.rounds, a.steps, a.warmup, dev)
    for m in models.values():
        m.eval()
    t_infer = interleaved({k: infer_step(m) for k, m in models.items()}, a.rounds, a.steps * 2, a.warmup, dev)

    def figures(times):
        med = {k: statistics.median(v) for k, v in times.items()}
        return {k: {"images_per_s": a.batch / med[k],
                    "per_round_images_per_s": [round(a.batch / t, 1) for t in v],
                    "vs_torchvision": med["torchvision"] / med[k]} for k, v in times.items()}

    out = {"train": figures(t_train), "infer": figures(t_infer), "fp32_max_abs_diff": diff,
           "fp32_max_abs_output": ref.abs().max().item(), "batch": a.batch, "size": a.size, "rounds": a.rounds,
           "amp": a.amp if use_amp else "off (CPU)", "channels_last": True}
    out["ok"] = diff <= 1e-5 * max(1.0, out["fp32_max_abs_output"])
    return out


# ------------------------------------------------------- (b)/(c) resdsl.train
def deterministic():
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)  # warns where an op has no deterministic kernel
    warnings.filterwarnings("once", category=UserWarning)


def part_train(a, dev, backend: str, data: Path, work: Path) -> dict:
    import resdsl
    from resdsl.training import Interrupted
    deterministic()
    spec = a.spec
    opts = dict(epochs=a.epochs, batch_size=a.train_batch, progress=False, amp=True,
                device="cuda" if dev.type == "cuda" else "cpu", preset="paper-cifar")
    runs = work / backend
    t0 = time.perf_counter()
    full = resdsl.train(spec, data, backend, out=runs / "full", **opts)
    t_full = time.perf_counter() - t0
    resdsl.train(spec, data, backend, out=runs / "again", **opts)  # the kernels' own run-to-run noise
    spe = full.rows[0]["step"]
    stop_at = spe + spe // 2  # the middle of epoch 2

    def ctrl_c(step):
        if step == stop_at:
            os.kill(os.getpid(), signal.SIGINT)

    where = None
    try:
        resdsl.train(spec, data, backend, out=runs / "cut", on_step=ctrl_c, **opts)
    except Interrupted as exc:
        where = str(exc)
    resumed = resdsl.train(spec, data, backend, out=runs / "cut", resume=True, **opts)
    weights = {name: _weights(runs / name, backend) for name in ("full", "again", "cut")}
    resume_diff = _max_diff(weights["full"], weights["cut"])
    noise = _max_diff(weights["full"], weights["again"])
    losses = [r["train_loss"] for r in full.rows]
    out = {"spec": spec, "device": str(dev), "notes": full.notes, "steps": [r["step"] for r in full.rows],
           "train_loss": losses, "val_acc": [r["val_acc"] for r in full.rows],
           "images_per_s": [round(r["images_per_s"]) for r in full.rows], "seconds_full_run": t_full,
           "interrupted": where, "resumed_steps": [r["step"] for r in resumed.rows],
           "resume_max_abs_diff": resume_diff, "two_runs_max_abs_diff": noise,
           "files": sorted(p.name for p in (runs / "cut").iterdir())}
    if backend == "keras":
        import keras
        out["keras_engine"] = keras.backend.backend()
        out["policy_during_run"] = _KERAS_POLICY.get("seen")
    out["ok"] = (losses[-1] < 0.9 * losses[0] and where is not None and f"step {spe // 2}" in where
                 and out["resumed_steps"] == out["steps"] and resume_diff <= 10 * noise)
    return out


_KERAS_POLICY: dict = {}


def _watch_keras_policy():
    """Record the mixed-precision policy the Keras trainer sets (it restores float32 after)."""
    from resdsl.training import keras_fit
    orig = keras_fit._model

    def model(job, keras):
        _KERAS_POLICY["seen"] = keras.mixed_precision.global_policy().name
        return orig(job, keras)
    keras_fit._model = model


def _weights(run: Path, backend: str) -> list[np.ndarray]:
    if backend == "torch":
        state = torch.load(run / "model.pt", map_location="cpu", weights_only=True)
        return [v.float().numpy() for v in state.values()]
    from resdsl.backends.keras import load
    return [np.asarray(w, dtype=np.float32) for w in load(str(run / "model.keras")).get_weights()]


def _max_diff(a, b) -> float:
    assert len(a) == len(b)
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b))


# ------------------------------------------- (e) resdsl train's loop vs a hand loop
def part_e(a, dev) -> dict:
    """bench/train_throughput.py's two sides (resdsl.train's images/s against a bare loop / bare fit on the
    same model and batch), alternating rounds, with AMP on the GPU."""
    sys.path.insert(0, str(ROOT / "bench"))
    import train_throughput as tt

    from resdsl.datasets.synthetic import write_cifar_archive
    args = argparse.Namespace(spec=a.e_spec, batch=a.e_batch, steps=a.e_steps, rounds=a.e_rounds, amp=True,
                              device="cuda" if dev.type == "cuda" else "cpu")
    out = {"spec": args.spec, "batch": args.batch, "steps_per_epoch": args.steps, "rounds": args.rounds}
    with tempfile.TemporaryDirectory(prefix="gpu_check-e-") as tmp:
        archive = write_cifar_archive(Path(tmp) / "cifar-10-python.tar.gz", train=args.batch * args.steps,
                                      test=args.batch)
        for backend in ("torch", "keras"):
            ours, bare = [], []
            for k in range(args.rounds):
                ours.append(tt.resdsl_rate(args, backend, archive, Path(tmp) / f"{backend}-{k}"))
                bare.append(tt.torch_rate(args) if backend == "torch" else tt.keras_rate(args))
            o, h = statistics.median(ours), statistics.median(bare)
            out[backend] = {"resdsl_images_per_s": o, "hand_images_per_s": h, "ratio": o / h,
                            "rounds": [[round(x), round(y)] for x, y in zip(ours, bare)]}
    out["ok"] = True  # figures, not a pass/fail: the 0.97 target is read from them
    return out


# ------------------------------------------------------------- (d) fused BN
def part_d(a, dev) -> dict:
    import resdsl
    from resdsl.backends.torch import load_source
    strict_fp32()
    torch.backends.cudnn.benchmark = False
    module = load_source(resdsl.emit("resnet50", backend="torch", fuse_bn=True), "resnet50")
    torch.manual_seed(0)
    model = module.build_model(fused=False)
    randomise_norms(model, seed=1)
    model.eval().to(dev, memory_format=torch.channels_last)
    x = torch.randn(8, 3, a.size, a.size, device=dev).to(memory_format=torch.channels_last)
    with torch.no_grad():
        ref = model(x)
        fused = module.fold_batchnorm(model)
        got = fused(x)
    n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    diff, scale = (got - ref).abs().max().item(), ref.abs().max().item()
    return {"max_abs_diff": diff, "max_abs_output": scale, "relative": diff / scale, "batchnorms_left": n_bn,
            "ok": n_bn == 0 and diff <= 1e-4 * max(1.0, scale)}


# ------------------------------------------------------------------ driver
def _run(name, fn, results):
    t = time.perf_counter()
    try:
        results[name] = fn()
    except Exception as exc:  # report and go on: device time is short, the other parts still count
        results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                         "traceback": traceback.format_exc()[-3000:]}
    results[name]["seconds"] = round(time.perf_counter() - t, 1)
    print(f"[{name}] done in {results[name]['seconds']} s: ok={results[name]['ok']}", flush=True)


def _summary(res: dict) -> str:
    lines = [f"device: {res['device']}; torch {res['torch']}; keras {res.get('keras', '-')} "
             f"({res.get('keras_engine', '-')}); smoke={res['smoke']}"]
    a = res.get("a_throughput", {})
    if "train" in a:
        lines.append(f"(a) resnet50 batch {a['batch']} {a['size']}px, AMP {a['amp']}, channels_last, "
                     f"{a['rounds']} interleaved rounds (median img/s, ratio to torchvision):")
        for k in a["train"]:
            t, i = a["train"][k], a["infer"][k]
            lines.append(f"    {k:<12} train {t['images_per_s']:>9.1f} ({t['vs_torchvision']:.3f})   "
                         f"infer {i['images_per_s']:>9.1f} ({i['vs_torchvision']:.3f})")
        lines.append(f"    fp32 (no TF32) max |diff| vs torchvision, same weights: {a['fp32_max_abs_diff']:.3g} "
                     f"(max |output| {a['fp32_max_abs_output']:.3g})")
    for key, label in (("b_train_torch", "(b) torch"), ("c_train_keras", "(c) keras")):
        r = res.get(key, {})
        if "train_loss" in r:
            lines.append(f"{label}: {r['spec']} on {r['device']}, steps {r['steps']}, train loss "
                         f"{' -> '.join(f'{v:.3f}' for v in r['train_loss'])}, val acc {r['val_acc'][-1]:.3f}, "
                         f"img/s {r['images_per_s']}, notes {r['notes']}"
                         + (f", policy {r.get('policy_during_run')}" if key.startswith("c") else ""))
            lines.append(f"    Ctrl-C: {r['interrupted']}; resumed to steps {r['resumed_steps']}; "
                         f"max |diff| resumed vs uninterrupted {r['resume_max_abs_diff']:.3g} "
                         f"(two uninterrupted runs {r['two_runs_max_abs_diff']:.3g})")
    e = res.get("e_loop_vs_hand", {})
    for backend in ("torch", "keras"):
        if backend in e:
            r = e[backend]
            lines.append(f"(e) {backend} train loop, {e['spec']} batch {e['batch']} AMP: resdsl.train "
                         f"{r['resdsl_images_per_s']:,.0f} img/s, hand-written {r['hand_images_per_s']:,.0f} img/s, "
                         f"ratio {r['ratio']:.3f} (rounds {r['rounds']})")
    d = res.get("d_fused_bn", {})
    if "max_abs_diff" in d:
        lines.append(f"(d) fused BN, resnet50 fp32 eval: max |diff| {d['max_abs_diff']:.3g} "
                     f"(relative {d['relative']:.3g}), BatchNorms left {d['batchnorms_left']}")
    for k, v in res.items():
        if isinstance(v, dict) and "error" in v:
            lines.append(f"FAILED {k}: {v['error']}")
    lines.append("ALL OK" if res["ok"] else "SOME PART FAILED")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="small sizes on whatever device is here (CPU)")
    p.add_argument("--amp", choices=("bfloat16", "float16"), default="bfloat16")
    p.add_argument("--parts", default="abcde", help="which parts to run, e.g. 'ab'")
    a = p.parse_args()
    cuda = torch.cuda.is_available()
    if not cuda and not a.smoke:
        print("gpu_check: no CUDA device here; nothing to measure (use --smoke to try the code on the CPU)")
        return 0
    dev = torch.device("cuda" if cuda and not a.smoke else "cpu")
    from train_data import TINY, make_cifar_archive  # the tests' tiny CIFAR-shaped net and data maker
    if a.smoke:  # reduced: every code path, small sizes
        a.batch, a.size, a.rounds, a.steps, a.warmup = 4, 64, 2, 1, 1
        a.spec, a.epochs, a.train_batch, per_batch, test = TINY, 2, 20, 40, 40
        a.e_spec, a.e_batch, a.e_steps, a.e_rounds = "cifar_resnet20", 16, 2, 1
        sys.modules.setdefault("tensorflow", None)  # as on the device: Keras must not need TensorFlow
    else:
        a.batch, a.size, a.rounds, a.steps, a.warmup = 256, 224, 6, 10, 5
        a.spec, a.epochs, a.train_batch, per_batch, test = "cifar_resnet20", 3, 125, 500, 500
        a.e_spec, a.e_batch, a.e_steps, a.e_rounds = "cifar_resnet20", 256, 20, 3
    res: dict = {"device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
                 "torch": torch.__version__, "smoke": a.smoke, "python": sys.version.split()[0]}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu_check-") as tmp:
        work = Path(tmp)
        data = make_cifar_archive(work / "cifar-10-python.tar.gz", per_batch=per_batch, test=test)
        if a.smoke:
            (work / "tiny.yaml").write_text(a.spec)
            a.spec = str(work / "tiny.yaml")
        if "a" in a.parts:
            _run("a_throughput", lambda: part_a(a, dev), res)
        if "e" in a.parts:  # before (b)/(c), which switch to deterministic kernels
            _run("e_loop_vs_hand", lambda: part_e(a, dev), res)
        if "d" in a.parts:
            _run("d_fused_bn", lambda: part_d(a, dev), res)
        if "b" in a.parts:
            _run("b_train_torch", lambda: part_train(a, dev, "torch", data, work), res)
        if "c" in a.parts:
            try:
                import keras
                res["keras"], res["keras_engine"] = keras.__version__, keras.backend.backend()
                _watch_keras_policy()
            except Exception as exc:  # reported by the part itself
                res["keras_import"] = f"{type(exc).__name__}: {exc}"
            _run("c_train_keras", lambda: part_train(a, dev, "keras", data, work), res)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    res["ok"] = all(v.get("ok") for v in res.values() if isinstance(v, dict))
    text = _summary(res)
    print(text)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "gpu_check.json").write_text(json.dumps(res, indent=1, default=str) + "\n")
        Path(os.environ["OUT"], "gpu_check.txt").write_text(text + "\n")
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
