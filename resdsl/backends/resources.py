"""Whether a network's weights can be allocated, checked before a backend builds
it: a spec that validates can still ask for 10^12 weights (a 1,000,000-filter
conv, a 1,000,000 x 1,000,000 dense layer), which would end in an allocator
RuntimeError, a MemoryError, or the process killed by the system. Counting is
free (the IR knows every layer's parameters); building is refused with a located
error giving the counts, the bytes and the memory it exceeds.

The rule (docs/limits.md): building needs its float32 weights and buffers times
the backend's HEADROOM in memory the process may still use: the least of the
system's available memory, the control group's remaining allowance and the
address-space limit.
"""
from __future__ import annotations

import os

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows
    resource = None

from ..errors import SpecError
from ..ir import Resolved
from ..ir.ops import OPS

BYTES_PER_VALUE = 4  # float32, both backends' default
# Peak memory of a build over its float32 weights, measured (docs/limits.md):
# PyTorch initialises each weight in place (1.0x for one 10,000 x 10,000 dense
# layer, 1.3x with a network's small tensors); Keras makes an initialiser's
# values beside the variable they fill (2.0x for that dense layer).
HEADROOM = {"torch": 1.5, "keras": 2.5}


def _bytes(n: int) -> str:
    for power, unit in ((60, "EiB"), (50, "PiB"), (40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")):
        if n >= 2 ** power:
            return f"{n / 2 ** power:,.1f} {unit}"
    return f"{n} bytes"


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


CGROUP = "/sys/fs/cgroup"
# (limit, usage, the memory.stat key of page cache the kernel reclaims before it kills): cgroup v2, then v1.
CGROUP_FILES = (("memory.max", "memory.current", "inactive_file"),
                ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes", "total_inactive_file"))


def _cgroup_left(root: str = CGROUP) -> int | None:
    """What the process's control group (a container's memory limit) still allows.
    Its usage counts the page cache too; the inactive part of it is given back
    before anything is killed, so it is counted as free (as a container's
    "working set" is)."""
    for limit_file, usage_file, cache_key in CGROUP_FILES:
        try:
            with open(os.path.join(root, limit_file)) as f:
                limit = f.read().strip()
            with open(os.path.join(root, usage_file)) as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if not limit.isdigit() or int(limit) >= 2 ** 60:  # "max", or v1's "unlimited" page-rounded 2^63
            continue
        stat = os.path.join(root, os.path.dirname(usage_file), "memory.stat")
        return max(int(limit) - usage + _stat(stat, cache_key), 0)
    return None


def _stat(path: str, key: str) -> int:
    """A counter of a cgroup's memory.stat (0 if it is missing)."""
    try:
        with open(path) as f:
            for line in f:
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _address_space_left() -> int | None:
    """An address-space limit (`ulimit -v`) less what the process already maps."""
    if resource is None:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        mapped = 0
    return max(soft - mapped, 0)


def available_memory() -> tuple[int, str] | None:
    """(bytes, where the figure comes from) of the memory a build may still use; None if unknown."""
    found = [(v, what) for v, what in ((_meminfo_available(), "memory available on this machine"),
                                      (_cgroup_left(), "memory its control group still allows"),
                                      (_address_space_left(), "address space its limit (ulimit -v) leaves"))
             if v is not None]
    return min(found) if found else None


def _allocated(d: dict) -> int:
    """Values building a node allocates: its parameters, buffers and constants (a blur filter)."""
    op = OPS.get(d["op"])  # an op outside the table is the backend's to refuse, where it is located
    constants = op.constants(d["attrs"], d["in_shapes"]) if op else 0
    return d.get("params", 0) + d.get("buffers", 0) + constants


def check_allocatable(resolved: Resolved, backend: str, memory: tuple[int, str] | None = None) -> None:
    """Raise a located SpecError if building `resolved` cannot fit in memory."""
    g = resolved.graph
    sizes = {n: _allocated(d) for n, d in g.nodes(data=True)}
    values = sum(sizes.values())
    factor = HEADROOM.get(backend, max(HEADROOM.values()))
    needed = int(factor * BYTES_PER_VALUE * values)
    memory = memory or available_memory()
    if memory is None or needed <= memory[0]:
        return
    largest = max(sizes, key=sizes.get)
    d = g.nodes[largest]
    constants = values - resolved.params - resolved.buffers
    held = f"{resolved.params:,} parameters and {resolved.buffers:,} buffers" + \
        (f" and {constants:,} constant values" if constants else "")
    text = resolved.spec.source.text if resolved.spec is not None else None
    raise SpecError.at(
        d["span"], "too-large",
        f"the network cannot be built in {backend}: {held} are {_bytes(BYTES_PER_VALUE * values)} of float32 "
        f"weights, and building needs about {factor:g}x that ({_bytes(needed)}), more than the "
        f"{_bytes(memory[0])} of {memory[1]}; the largest layer is '{largest}' ({sizes[largest]:,} "
        f"{'parameters' if sizes[largest] == d.get('params', 0) else 'values'})",
        "make the filters, kernels, units or expansion smaller; `resdsl validate` and `summary` show the counts "
        "without building", text)
