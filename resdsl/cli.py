"""The `resdsl` command. The only module that prints; every spec mistake ends as
a located message and exit code 1, never a traceback.

Each command imports what it needs when it runs: `resdsl list` never builds
the spec models, `validate` never loads a backend or the training code (nor
json, unless asked for it)."""
from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from typing import TYPE_CHECKING

from .errors import HintedError, OutputError, SpecError
from .version import __version__
from .vocab import BACKENDS, LEVELS

if TYPE_CHECKING:
    from .spec.limits import Limits


class _Fail(HintedError):
    """A user-facing failure that is not a spec mistake (missing package, bad flag)."""


def _limits(args) -> Limits:
    from .spec.limits import DEFAULT_LIMITS
    pairs = {}
    for item in getattr(args, "limit_top", []) + getattr(args, "limit", []):
        key, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            raise _Fail(f"--limit expects KEY=N, got '{item}'")
        pairs[key.strip()] = int(value)
    try:
        return DEFAULT_LIMITS.with_overrides(pairs)
    except ValueError as exc:
        raise _Fail(str(exc)) from None


def _json(data) -> str:
    """`--format json` and `--error-format json` output; json loads only for them."""
    import json
    return json.dumps(data, indent=2)


def _sets(args) -> list[str]:
    """--set given before and after the command."""
    return getattr(args, "set_top", []) + getattr(args, "set", [])


def _resolve(args, spec: str, **overrides):
    from .ir import resolve
    from .spec.load import load_spec
    return resolve(load_spec(spec, _limits(args), sets=_sets(args), **overrides))


def cmd_list(args) -> int:
    from .spec.shipped import shipped_names, shipped_path
    from .spec.yamlload import load_yaml
    for name in shipped_names():
        data, _ = load_yaml(shipped_path(name).read_text(encoding="utf-8"), name)
        print(f"{name:<20} {data.get('description', '')}")
    return 0


def cmd_validate(args) -> int:
    from .analysis import one_line
    from .reports import validate_record
    failed: list[SpecError] = []
    records = []
    size = {"input_size": tuple(args.input_size)} if args.input_size else {}
    for spec in args.spec:
        try:
            r = _resolve(args, spec, **size)
            if args.format == "text":
                print(one_line(r))
            else:
                records.append(validate_record(spec, r))
            if args.print_spec:
                print(_spec_yaml(r), end="")
        except SpecError as exc:
            failed.append(exc)
            records.append({"spec": spec, "ok": False, "errors": [d.to_dict() for d in exc.diagnostics]})
            if args.error_format == "text":
                print(exc.render(color=sys.stderr.isatty()), file=sys.stderr)
    if args.format == "json":
        print(_json(records))
    if failed and args.error_format == "json":
        print(_json([d.to_dict() for e in failed for d in e.diagnostics]), file=sys.stderr)
    return 1 if failed else 0


def cmd_summary(args) -> int:
    from .analysis import summary_table
    r = _resolve(args, args.spec)
    if args.format == "json":
        from .reports import summary_record
        print(_json(summary_record(r, args.level)))
    else:
        print(summary_table(r, args.level))
    return 0


def _spec_yaml(r) -> str:
    """What a spec resolves to after `extends:` and overrides, as YAML."""
    import yaml
    data = r.spec.data if r.spec is not None and r.spec.data is not None else {}
    return "---\n" + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)


def cmd_schema(args) -> int:
    from .spec.schema import json_schema_text
    text = json_schema_text()
    if args.output and args.output != "-":
        from .io import atomic_write
        atomic_write(args.output, text, force=True, marker=None)
    else:
        sys.stdout.write(text)
    return 0


def _need(backend: str):
    from .backends.frameworks import MissingFramework, require
    try:
        require(backend)
    except MissingFramework as exc:
        raise _Fail(exc.what, exc.hint) from None


def cmd_compile(args) -> int:
    from .backends import get_backend
    from .io import atomic_write
    r = _resolve(args, args.spec)
    backend = get_backend(args.backend)
    if args.format == "keras":
        if args.backend != "keras":
            raise _Fail("--format keras needs --backend keras")
        out = args.output or f"{r.name}.keras"
        if out == "-":
            raise _Fail("a .keras file cannot be written to stdout", "give a file name with -o")
        _need("keras")
        data = backend.save_bytes(r, fuse_bn=args.fuse_bn)
        atomic_write(out, data, force=args.force, marker=backend.SAVE_MARKER)
    else:
        out = args.output or f"{r.name}_{args.backend}.py"
        atomic_write(out, backend.emit(r, fuse_bn=args.fuse_bn), force=args.force)
    if out != "-":
        print(f"wrote {out}", file=sys.stderr)
    return 0


def cmd_render(args) -> int:
    from .render import render
    r = _resolve(args, args.spec)
    out = args.output or f"{r.name}.{args.format}"
    path = render(r, out, level=args.level, fmt=args.format, expand=args.expand,
                  max_nodes=args.max_nodes, force=args.force)
    if str(path) != "-":
        print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    from .export import ExportError, export
    r = _resolve(args, args.spec)
    try:
        path = export(r, args.format, args.output, weights=args.weights, force=args.force)
    except ExportError as exc:
        raise _Fail(str(exc), exc.hint) from None
    print(f"wrote {path}", file=sys.stderr)
    return 0


# ---- train / compare: thin layers over resdsl.train and resdsl.training.compare

def _train_options(args) -> dict:
    return dict(epochs=args.epochs, batch_size=args.batch_size, preset=args.preset, device=args.device,
                amp=args.amp, seed=args.seed, resume=args.resume, download=args.download,
                sets=_sets(args))


def cmd_train(args) -> int:
    from .training import train
    h = train(args.spec, args.data, args.backend, out=args.out, devices=args.devices, **_train_options(args))
    for note in h.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"{h.spec} ({h.backend}): final val acc {100 * h.final_val_acc:.2f}%, best {100 * h.best_val_acc:.2f}% "
          f"after {len(h.rows)} epochs; metrics and checkpoint in {h.run_dir}")
    return 0


def cmd_compare(args) -> int:
    from .training.compare import compare
    c = compare(args.spec, args.data, args.backend, out=args.out or "runs/compare", jobs=args.jobs,
                **_train_options(args))
    print(c.table.read_text(encoding="utf-8"), end="")
    print(f"table: {c.table} (and results.csv); curves: {', '.join(str(p) for p in c.pictures)}")
    return 0


def _add_train_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--data", required=True, metavar="DATA",
                   help="cifar-10-python.tar.gz (or its folder), the SIGNS folder, or a class-per-folder directory")
    s.add_argument("--backend", choices=BACKENDS, default="torch")
    s.add_argument("--epochs", type=int, metavar="N", help="default: the preset's (paper-cifar: 64k iterations)")
    s.add_argument("--batch-size", type=int, metavar="B", help="the global batch (default: the preset's)")
    s.add_argument("--preset", choices=("paper-cifar", "adam"), default="paper-cifar",
                   help="paper-cifar: He et al.'s SGD recipe and augmentation; adam: the articles' Adam")
    s.add_argument("--out", metavar="RUN_DIR", help="where metrics, checkpoints and pictures go")
    s.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    s.add_argument("--amp", action="store_true", help="mixed precision on a GPU (ignored, with a note, on CPU)")
    s.add_argument("--seed", type=int, default=0, metavar="S")
    s.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR where it stopped")
    s.add_argument("--download", action="store_true", help="fetch CIFAR-10 to DATA if it is not there")


def add_train_commands(sub, common) -> None:
    s = sub.add_parser("train", parents=[common], help="train a spec (PyTorch or Keras) and log its metrics")
    s.add_argument("spec", metavar="SPEC", help="a spec file or a shipped name")
    _add_train_options(s)
    s.add_argument("--devices", metavar="LIST", type=lambda v: tuple(d for d in v.split(",") if d),
                   help="Keras: train under MirroredStrategy over these TensorFlow devices, e.g. GPU:0,GPU:1 "
                        "(default: every GPU when more than one is visible)")
    s.set_defaults(func=cmd_train)
    s = sub.add_parser("compare", parents=[common], help="train several specs; a results table and curves")
    s.add_argument("spec", nargs="+", metavar="SPEC", help="spec files or shipped names")
    _add_train_options(s)
    s.add_argument("--jobs", type=int, metavar="N", help="runs at once (default: one per GPU when several)")
    s.set_defaults(func=cmd_compare)


def build_parser() -> argparse.ArgumentParser:
    # The shared options are accepted before and after the command. SUPPRESS keeps
    # a subcommand's unset default from overwriting what was given before it
    # (argparse copies subparser defaults over the parent's values); limits given
    # in both places are merged from two destinations.
    def common_options(limit_dest: str) -> argparse.ArgumentParser:
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument("--error-format", choices=("text", "json"), default=argparse.SUPPRESS,
                            help="how to print errors (json: a list of {file, line, column, end_line, "
                                 "end_column, code, message, hint})")
        common.add_argument("--limit", action="append", metavar="KEY=N", dest=limit_dest, default=argparse.SUPPRESS,
                            help="raise a safety limit, e.g. max_repeat=20000 (see docs/limits.md)")
        common.add_argument("--set", action="append", metavar="PATH=VALUE", default=argparse.SUPPRESS,
                            dest=limit_dest.replace("limit", "set"),
                            help="override a value of the spec, e.g. input.channels=1 or head.fc.units=5 "
                                 "(list items by name or index)")
        return common

    common = common_options("limit")
    p = argparse.ArgumentParser(prog="resdsl", parents=[common_options("limit_top")],
                                description="Declarative residual networks: validate, summarise, "
                                            "compile to PyTorch or Keras, render.")
    p.set_defaults(error_format="text")
    p.add_argument("--version", action="version", version=f"resdsl {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("list", parents=[common], help="list the shipped specs")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("validate", parents=[common], help="check specs; one line of counts per spec")
    s.add_argument("spec", nargs="+", metavar="SPEC", help="a spec file or a shipped name")
    s.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: a list of {spec, ok, trainable_params, non_trainable_params, macs, ...}")
    s.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"),
                   help="report shapes and MACs at this input size instead of the spec's")
    s.add_argument("--print-spec", action="store_true",
                   help="print what the spec resolves to after `extends:` and --set, as YAML")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("summary", parents=[common], help="a table of layers, shapes, params, MACs, receptive "
                       "fields and the activations training keeps")
    s.add_argument("spec", metavar="SPEC", help="a spec file or a shipped name")
    s.add_argument("--level", choices=LEVELS, default="layer")
    s.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: the totals and one row per layer (block, stage), with options, receptive "
                        "field and saved bytes")
    s.set_defaults(func=cmd_summary)

    s = sub.add_parser("schema", parents=[common], help="print the JSON Schema of the spec language")
    s.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    s.set_defaults(func=cmd_schema)

    s = sub.add_parser("compile", parents=[common], help="write a Python module (or .keras file) for a spec")
    s.add_argument("spec", metavar="SPEC", help="a spec file or a shipped name")
    s.add_argument("--backend", choices=BACKENDS, default="torch")
    s.add_argument("-o", "--output", metavar="FILE",
                   help="output file (default <name>_<backend>.py; '-' for stdout)")
    s.add_argument("--format", choices=("py", "keras"), default="py",
                   help="py: an importable module; keras: a saved .keras model")
    s.add_argument("--fuse-bn", action="store_true", help="fold BatchNorm into convs (inference only)")
    s.add_argument("--force", action="store_true", help="overwrite a file resdsl did not write")
    s.set_defaults(func=cmd_compile)

    s = sub.add_parser("render", parents=[common], help="draw the network with Graphviz")
    s.add_argument("spec", metavar="SPEC", help="a spec file or a shipped name")
    s.add_argument("-o", "--output", metavar="FILE", help="output file (default <name>.<format>)")
    s.add_argument("--level", choices=LEVELS, default="block")
    s.add_argument("--format", choices=("svg", "png", "pdf", "dot"), default="svg")
    s.add_argument("--expand", action="store_true", help="draw every block, not runs of identical blocks")
    s.add_argument("--max-nodes", type=int, default=2000, metavar="N",
                   help="refuse to draw more nodes than this (default 2000)")
    s.add_argument("--force", action="store_true", help="overwrite a file resdsl did not write")
    s.set_defaults(func=cmd_render)

    s = sub.add_parser("export", parents=[common], help="export to ONNX, a TensorFlow SavedModel or TFLite")
    s.add_argument("spec", metavar="SPEC", help="a spec file or a shipped name")
    s.add_argument("--format", choices=("onnx", "savedmodel", "tflite"), required=True,
                   help="onnx: from the torch build; savedmodel, tflite: from the Keras build")
    s.add_argument("-o", "--output", metavar="PATH",
                   help="output file or folder (default <name>.onnx, <name>_savedmodel, <name>.tflite)")
    s.add_argument("--weights", metavar="FILE", help="a torch state_dict (.pt, .pth) or a .keras file")
    s.add_argument("--force", action="store_true", help="overwrite a file or folder resdsl did not write")
    s.set_defaults(func=cmd_export)
    add_train_commands(sub, common)
    return p


def _reads_specs_only(args) -> bool:
    """Commands that read specs and write text, never loading a framework."""
    return args.command in ("list", "validate", "summary", "schema", "render") or \
        (args.command == "compile" and args.format == "py")


@contextlib.contextmanager
def _collector_off(off: bool, exiting: bool):
    """Such a command allocates a few hundred thousand small objects (the spec
    models, the IR) and no cycles worth collecting: the cyclic garbage collector
    would walk them all again and again to free nothing, and once more when the
    interpreter shuts down. As `resdsl`'s own process (`exiting`), freeze them
    instead of re-enabling the collector: the shutdown collection skips frozen
    objects; reference counting still frees them."""
    was = gc.isenabled()
    if off:
        gc.disable()
    try:
        yield
    finally:
        if off and exiting:
            gc.freeze()
        elif was:
            gc.enable()


def main(argv: list[str] | None = None, *, exiting: bool = False) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with _collector_off(_reads_specs_only(args), exiting):
        return _run(args)


def _run(args) -> int:
    try:
        return args.func(args)
    except SpecError as exc:
        if args.error_format == "json":
            print(exc.to_json(), file=sys.stderr)
        else:
            print(exc.render(color=sys.stderr.isatty()), file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # The data and training errors load with their modules, only here: a
        # command that never imported them cannot have raised them.
        from .datasets.errors import DataError
        from .training.config import Interrupted, TrainError
        if not isinstance(exc, (OutputError, _Fail, DataError, TrainError)):
            raise
        code = 130 if isinstance(exc, Interrupted) else 1
        if args.error_format == "json":
            kind = {OutputError: "output-error", DataError: "data-error"}.get(type(exc), "usage-error")
            print(_json([{"file": None, "line": None, "column": None, "end_line": None, "end_column": None,
                          "code": kind, "message": str(exc), "hint": exc.hint}]), file=sys.stderr)
            return code
        msg = f"resdsl: error: {exc}"
        if exc.hint:
            msg += f"\n  hint: {exc.hint}"
        print(msg, file=sys.stderr)
        return code


def entry() -> None:
    sys.exit(main(exiting=True))


if __name__ == "__main__":
    entry()
