"""The fuzz target shared by the atheris and hypothesis campaigns: bytes in, and
either a resolved network or a located SpecError out. Anything else is a finding."""
from __future__ import annotations

import hashlib
import traceback
from pathlib import Path

import resdsl
from resdsl.errors import SpecError
from resdsl.spec.limits import Limits
from resdsl.spec.load import loads

# Smaller graph bounds than the defaults keep each execution in milliseconds; the
# limits themselves are exercised by tests/hostile/test_limits.py.
FUZZ_LIMITS = Limits(max_graph_nodes=20_000, max_repeat=200)


class Finding(Exception):
    """An input made resdsl fail with something other than a located SpecError."""


def check_error(exc: SpecError) -> None:
    """A SpecError must name a code and a 1-based position for every problem."""
    if not exc.diagnostics:
        raise Finding("SpecError without diagnostics")
    for d in exc.diagnostics:
        s = d.span
        if not d.code or not d.message or s.line < 1 or s.column < 1 or s.end_line < s.line:
            raise Finding(f"badly located diagnostic: {d}")
    str(exc)  # rendering the caret must not fail either
    exc.to_json()


def run_one(data: bytes, emit: bool = False) -> str:
    """Load, validate and resolve `data` (and with `emit`, generate both backends'
    source and parse it); returns 'ok' or the error code."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "bad-encoding"  # load_spec reports this for files; text input is already str
    try:
        resolved = resdsl.resolve(loads(text, "<fuzz>", FUZZ_LIMITS))
        if emit:
            from resdsl.backends import get_backend
            for backend in ("torch", "keras"):
                source = get_backend(backend).emit(resolved)
                try:
                    compile(source, f"<{backend}>", "exec")
                except SyntaxError as exc:
                    raise Finding(f"{backend} emitted invalid Python: {exc}") from None
        return "ok"
    except SpecError as exc:
        check_error(exc)
        return exc.code


def save_finding(data: bytes, exc: BaseException, folder: Path) -> Path:
    """Keep one input per distinct (exception type, innermost resdsl frame)."""
    tb = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in tb if "resdsl" in f.filename] or tb
    key = f"{type(exc).__name__}:{ours[-1].filename}:{ours[-1].lineno}" if ours else type(exc).__name__
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.yaml"
    if not path.exists():
        path.write_bytes(data)
        (folder / f"{digest}.txt").write_text(key + "\n" + "".join(traceback.format_exception(exc)))
    return path
