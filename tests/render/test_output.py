"""Files: formats, markers, overwrite rules, default names."""
from __future__ import annotations

import re
import struct
import zlib

import pytest

from resdsl.errors import OutputError
from resdsl.io import MARKER, written_by_us
from resdsl.render import render
from resdsl.render.output import stamp
from tests.helpers.svg import TINY, resolved


@pytest.fixture(scope="module")
def tiny():
    return resolved(TINY)


def _png_chunks(data: bytes):
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        yield kind, body, crc == zlib.crc32(kind + body)
        pos += 12 + length


def test_png_carries_the_marker_in_a_valid_text_chunk(tmp_path, tiny):
    out = render(tiny, tmp_path / "t.png", fmt="png")
    data = out.read_bytes()
    chunks = list(_png_chunks(data))
    assert [c[0] for c in chunks][:2] == [b"IHDR", b"tEXt"] and chunks[-1][0] == b"IEND"
    assert all(ok for _, _, ok in chunks)  # every CRC still right
    assert chunks[1][1].startswith(b"Software\x00" + MARKER.encode())
    assert written_by_us(out)
    render(tiny, out, fmt="png", level="stage")  # our own file: overwritten without --force


def _check_pdf_offsets(data: bytes) -> int:
    xref = data.rindex(b"\nxref") + 1
    start = int(re.search(rb"startxref\s+(\d+)", data[xref:]).group(1))
    assert start == xref
    entries = re.findall(rb"(\d{10}) \d{5} n", data[xref:data.index(b"trailer", xref)])
    for i, off in enumerate(entries, 1):
        assert re.match(rb"\d+ 0 obj", data[int(off):int(off) + 12]), (i, off)
    return len(entries)


def test_pdf_carries_the_marker_and_stays_a_valid_pdf(tmp_path, tiny):
    out = render(tiny, tmp_path / "t.pdf", fmt="pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and MARKER.encode() in data[:4096]
    assert _check_pdf_offsets(data) > 3  # every cross-reference still points at its object
    render(tiny, out, fmt="pdf")


def test_pdf_stamp_leaves_xref_streams_alone():
    odd = b"%PDF-1.7\n1 0 obj\n<< /Type /XRef >>\nendobj\nstartxref\n9\n%%EOF\n"
    assert stamp(odd, "pdf", MARKER) == odd


def test_svg_stamp_escapes_double_dashes():
    out = stamp(b'<?xml version="1.0"?>\n<svg/>', "svg", "a -- b")
    assert out.splitlines()[1] == b"<!-- a - - b -->"


def test_dot_format_needs_no_graphviz_program_and_is_marked(tmp_path, tiny, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    out = render(tiny, tmp_path / "t.dot", fmt="dot", level="layer")
    text = out.read_text()
    assert text.startswith(f"// {MARKER}") and 'id="layer2.0.downsample.0"' in text


@pytest.mark.parametrize("fmt", ["svg", "png", "pdf", "dot"])
def test_foreign_files_are_kept_unless_forced(tmp_path, tiny, fmt):
    target = tmp_path / f"mine.{fmt}"
    target.write_bytes(b"precious, not written by resdsl")
    with pytest.raises(OutputError, match="refusing to overwrite"):
        render(tiny, target, fmt=fmt)
    assert target.read_bytes() == b"precious, not written by resdsl"
    render(tiny, target, fmt=fmt, force=True)
    assert written_by_us(target)


def test_default_name_is_spec_name_and_format(tmp_path, tiny, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert str(render(tiny, fmt="dot")) == "tiny.dot"
    assert (tmp_path / "tiny.dot").exists()


def test_bad_level_or_format_is_a_value_error(tiny, tmp_path):
    with pytest.raises(ValueError, match="level must be one of stage, block, layer"):
        render(tiny, tmp_path / "x.svg", level="blocks")
    with pytest.raises(ValueError, match="fmt must be one of"):
        render(tiny, tmp_path / "x.gif", fmt="gif")


def test_top_level_api_accepts_a_spec(tmp_path):
    import resdsl
    out = resdsl.render(TINY, tmp_path / "t.svg", level="stage")
    assert out.read_bytes().count(b'class="node stage"') == 4
