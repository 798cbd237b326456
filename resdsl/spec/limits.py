"""Bounds on what a spec may ask for, so hostile input fails fast instead of
eating memory ("billion laughs", huge repeat counts). Raise them by passing a
`Limits` to `load_spec`/`resolve`, or with the CLI's `--limit KEY=VALUE`."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

# Lowering follows user blocks used inside user blocks by recursion, about five
# Python frames a level; 100 levels stay far inside Python's default stack of
# 1,000 frames (and every backend's, which nest the same way), so no raised
# limit can turn a deep spec into a RecursionError. No real block nests more
# than a few levels.
MAX_BLOCK_NESTING_CEILING = 100


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 1_000_000        # size of the YAML document
    max_depth: int = 64               # nesting of mappings and sequences
    max_aliases: int = 100            # `*alias` uses in one document
    max_nodes: int = 100_000          # YAML nodes after alias expansion
    max_repeat: int = 10_000          # blocks in one stage
    max_graph_nodes: int = 500_000    # ops in the resolved graph
    max_block_nesting: int = 16       # user blocks used inside user blocks

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"limit {f.name} must be a positive whole number, got {v!r}")
        if self.max_block_nesting > MAX_BLOCK_NESTING_CEILING:
            raise ValueError(f"limit max_block_nesting is at most {MAX_BLOCK_NESTING_CEILING} (user blocks are "
                             f"lowered by recursion, and deeper nesting would exhaust Python's stack), "
                             f"got {self.max_block_nesting}")

    def with_overrides(self, pairs: dict[str, int]) -> Limits:
        known = {f.name for f in fields(self)}
        bad = [k for k in pairs if k not in known]
        if bad:
            raise ValueError(f"unknown limit {bad[0]!r}; known limits: {', '.join(sorted(known))}")
        return replace(self, **pairs)


DEFAULT_LIMITS = Limits()
