"""timm's rounding of a channel count to a multiple, the one copy: lowering calls
it (attention widths, `make_divisible(...)` in an expression) and both emitters copy
its text into the modules they write, where the expressions call it again.

Plain Python with no imports: the function must run unchanged inside an emitted module.
"""


def make_divisible(v, divisor=8, min_value=0, round_limit=0.9):
    """The multiple of `divisor` nearest `v` (at least `min_value`, or `divisor` when
    that is 0), one more if rounding lost more than 1 - round_limit of `v`: timm's
    rule, with its defaults (its squeeze-excitation passes round_limit=0)."""
    min_value = min_value or divisor
    out = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return out + divisor if out < round_limit * v else out
