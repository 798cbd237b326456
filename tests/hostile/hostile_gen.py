"""Random specs for property tests and the fuzzing campaign.

Everything draws from a `random.Random`-like object (`randint`, `choice`,
`random`), so hypothesis (`st.randoms()`) and the atheris driver (a Random seeded
from the fuzzer's bytes) share one generator and one set of mutations.
"""
from __future__ import annotations

import copy

import yaml

BLOCK_KINDS = ("basic", "bottleneck", "preact_basic", "preact_bottleneck", "user")

# A user block in the style of article 000 (conv -> act -> norm), so generated
# specs also cover `blocks:` and `$parameter` substitution.
USER_BLOCK = {
    "description": "two 3x3 convs, relu then norm",
    "main": [{"conv": {"filters": "$filters", "kernel": 3, "stride": "$stride", "padding": "same"}},
             "act", "norm", {"conv": {"filters": "$filters", "kernel": 3, "padding": "same"}}],
    "shortcut": "projection",
    "projection_norm": False,
    "after": ["act", "norm"],
}


def _out_channels(kind: str, filters: int, expansion: int | None) -> int:
    if kind in ("bottleneck", "preact_bottleneck"):
        return filters * (expansion or 4)
    return filters * (expansion or 1)


def valid_spec(rnd) -> dict:
    """A small spec that resolves: tiny widths and inputs, so building is cheap."""
    channels = rnd.randint(1, 4)
    size = rnd.choice((16, 20, 24, 32))
    spec: dict = {"resdsl": 1, "name": "gen", "input": {"height": size, "width": size, "channels": channels}}
    stem_stride = rnd.choice((1, 2))
    kernel = rnd.choice((1, 3))
    padding = rnd.choice(("same", 1, [1, 0, 1, 0])) if kernel == 3 else rnd.choice(("same", 0))
    stem: list = [{"conv": {"filters": rnd.randint(2, 8), "kernel": kernel, "stride": stem_stride,
                            "padding": padding}}]
    # Track the spatial size so strides never shrink the map below what the head needs.
    if padding == "same":
        size = -(-size // stem_stride)
    else:
        pad = 2 * padding if isinstance(padding, int) else 1
        size = (size + pad - kernel) // stem_stride + 1
    if rnd.random() < 0.5:
        stem += ["norm", {"act": rnd.choice(("relu", "relu6", "silu"))}]
    if rnd.random() < 0.3 and size >= 8:
        stem.append({"maxpool": {"size": 3, "stride": 2, "padding": 1}})
        size = (size + 2 - 3) // 2 + 1
    spec["stem"] = stem
    ch = stem[0]["conv"]["filters"]
    stages = []
    for _ in range(rnd.randint(1, 3)):
        kind = rnd.choice(BLOCK_KINDS)
        filters = rnd.randint(1, 6)
        expansion = rnd.choice((None, 1, 2)) if kind != "user" else None
        stride = rnd.choice((1, 2)) if size >= 4 else 1
        size = -(-size // stride)
        stage: dict = {"block": "user_block" if kind == "user" else kind, "filters": filters,
                       "repeat": rnd.randint(1, 2), "stride": stride}
        if expansion is not None:
            stage["expansion"] = expansion
        out = filters if kind == "user" else _out_channels(kind, filters, expansion)
        # identity needs equal channels; zeropad pads channels up, never down
        choices = ["projection", "none"] + (["identity"] if out == ch else []) + (["zeropad"] if out >= ch else [])
        if kind == "user":
            spec.setdefault("blocks", {})["user_block"] = copy.deepcopy(USER_BLOCK)
        stage["shortcut"] = rnd.choice(choices)
        if kind in ("bottleneck", "preact_bottleneck"):
            stage["stride_on"] = rnd.choice(("1x1", "3x3"))
            if rnd.random() < 0.3:
                stage["groups"] = 2
        if rnd.random() < 0.3:
            stage["stride_position"] = "last"
        stages.append(stage)
        ch = out
    spec["stages"] = stages
    if rnd.random() < 0.5 or size < 2:
        spec["head"] = ["global_avgpool", {"dense": {"units": rnd.randint(1, 5), "name": "fc"}}]
    else:
        spec["head"] = [{"avgpool": {"size": 2}}, "flatten",
                        {"dense": {"units": rnd.randint(1, 5), "activation": "softmax"}}]
    if rnd.random() < 0.3:
        spec["defaults"] = {"conv": {"bias": True}, "norm": {"eps": 1e-3, "momentum": 0.01}}
    return spec


def branchy_spec(rnd, out_channels) -> dict:
    """A valid spec whose stem and head are small graphs, not chains (a residual
    add and a gate in the stem, a squeeze-excitation gate before the head's
    pool, layers read by `from`), with unnamed layers written once and reused, so
    that the YAML holds anchors and aliases (`&id001` / `*id001`), and at times
    a long stem. `out_channels(spec)` gives the channels the stages end with."""
    spec = valid_spec(rnd)
    stem = spec["stem"]
    ch = stem[0]["conv"]["filters"]
    stem[0]["conv"]["name"] = "s0"
    relu = {"act": "relu"}  # one object, dumped once as an anchor and then as aliases
    # Right after s0, before any stride of the stem's own, so the add and the gate meet equal shapes.
    stem[1:1] = [relu, {"conv": {"filters": ch, "kernel": 3, "padding": 1, "name": "s1"}},
                 {"add": {"with": "s0", "name": "sum"}}, {"act": {"fn": "sigmoid", "from": "s1", "name": "gate"}},
                 {"multiply": {"with": "sum"}}, relu]
    for _ in range(rnd.choice((0, 0, 30))):  # a long stem
        stem.append({"conv": {"filters": ch, "kernel": 1}})
    out = out_channels(spec)
    spec["head"] = [{"act": {"fn": "relu", "name": "h0"}}, {"global_avgpool": {"keepdims": True}},
                    {"conv": {"filters": max(1, out // 2), "kernel": 1, "bias": True}}, relu,
                    {"conv": {"filters": out, "kernel": 1, "bias": True}}, {"act": "sigmoid"},
                    {"multiply": {"with": "h0"}}, relu, *spec["head"]]
    return spec


# ---- mutations: each takes (rnd, data) and returns new data -----------------

_EXTREMES = [0, -1, -(2 ** 63), 2 ** 63, 10 ** 30, 1_000_000, 1_000_001, 0.5, -0.0, float("inf"),
             float("nan"), 1e308, "", "x" * 300, True, None, [], {}, [1, 2, 3], {"a": 1}, "$filters",
             "$nope", "same", "valid", "layer1", "conv", "__import__('os')", "a\nb", "é"]
_KEYS = ["conv", "norm", "act", "filters", "kernel", "stride", "padding", "repeat", "block", "name",
         "shortcut", "groups", "expansion", "units", "main", "after", "params", "args", "type", "size",
         "resdsl", "input", "stages", "head", "stem", "blocks", "defaults", "bogus", "fitlers"]


def _paths(data, prefix=()):
    yield prefix, data
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _paths(v, prefix + (i,))


def _set(data, path, value):
    if not path:
        return value
    cur = data
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    return data


def mutate_data(rnd, data):
    """Apply one structural mutation to plain spec data (a deep copy)."""
    data = copy.deepcopy(data)
    paths = list(_paths(data))
    path, node = rnd.choice(paths)
    op = rnd.randint(0, 6)
    if op == 0 and path:  # remove a key or item
        parent = data
        for p in path[:-1]:
            parent = parent[p]
        del parent[path[-1]]
        return data
    if op == 1 and isinstance(node, dict):  # unknown or misplaced key
        node[rnd.choice(_KEYS)] = rnd.choice(_EXTREMES)
        return data
    if op == 2 and isinstance(node, list) and node:  # duplicate an item
        node.append(copy.deepcopy(rnd.choice(node)))
        return data
    if op == 3:  # swap in another subtree
        _, other = rnd.choice(paths)
        return _set(data, path, copy.deepcopy(other))
    if op == 4 and isinstance(node, (int, float)) and not isinstance(node, bool):
        return _set(data, path, rnd.choice((-node, node * 1000, node + 1, node - 1, 0, -1, 10 ** 9)))
    return _set(data, path, copy.deepcopy(rnd.choice(_EXTREMES)))


def mutate_text(rnd, text: str) -> str:
    """Byte-level damage: truncation, random characters, YAML punctuation."""
    op = rnd.randint(0, 4)
    pos = rnd.randint(0, len(text))
    if op == 0:
        return text[:pos]
    if op == 1:
        junk = "".join(chr(rnd.randint(0, 0x2FFF)) for _ in range(rnd.randint(1, 8)))
        return text[:pos] + junk + text[pos:]
    if op == 2:
        return text[:pos] + rnd.choice(("&a ", "*a", "!!python/object:os.system ", "{", "[", "- ",
                                        ": ", "\t", "'", '"', "\\", "#", "? ", "<<: *a", "%YAML 1.1\n",
                                        "---\n", "...\n", "\x00", "\ufeff", "\u2028")) + text[pos:]
    if op == 3:
        end = rnd.randint(pos, len(text))
        return text[:pos] + text[end:]
    lines = text.splitlines(keepends=True)
    if lines:
        i = rnd.randrange(len(lines))
        lines.insert(rnd.randrange(len(lines) + 1), lines[i])
    return "".join(lines)


def dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def mutated_spec(rnd, seeds: list[str] = ()) -> str:
    """A damaged spec: generated or seed text, then 1-3 data and/or text mutations."""
    if seeds and rnd.random() < 0.3:
        text = rnd.choice(seeds)
        data = yaml.safe_load(text)
    else:
        data = valid_spec(rnd)
        text = None
    for _ in range(rnd.randint(1, 3)):
        if rnd.random() < 0.7:
            data = mutate_data(rnd, data)
            text = None
        else:
            text = mutate_text(rnd, text if text is not None else dump(data))
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError:
                return text
    return text if text is not None else dump(data)
