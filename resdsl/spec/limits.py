"""Bounds on what a spec may ask for, so hostile input fails fast instead of
eating memory ("billion laughs", huge repeat counts). Raise them by passing a
`Limits` to `load_spec`/`resolve`, or with the CLI's `--limit KEY=VALUE`."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 1_000_000        # size of the YAML document
    max_depth: int = 64               # nesting of mappings and sequences
    max_aliases: int = 100            # `*alias` uses in one document
    max_nodes: int = 100_000          # YAML nodes after alias expansion
    max_repeat: int = 10_000          # blocks in one stage
    max_graph_nodes: int = 500_000    # ops in the resolved graph
    max_block_nesting: int = 16       # user blocks used inside user blocks

    def with_overrides(self, pairs: dict[str, int]) -> Limits:
        known = {f.name for f in fields(self)}
        bad = [k for k in pairs if k not in known]
        if bad:
            raise ValueError(f"unknown limit {bad[0]!r}; known limits: {', '.join(sorted(known))}")
        return replace(self, **pairs)


DEFAULT_LIMITS = Limits()
