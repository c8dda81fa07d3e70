"""The scan streams: chunk boundaries lose nothing, memory does not grow with the file."""

from __future__ import annotations

import tracemalloc

from canary.forensics import readers
from canary.forensics.engine import Matcher, Pattern
from canary.forensics.service import scan


def test_anchor_split_across_chunks_is_found_with_its_whole_line():
    lines = [b"header,a,b", b"x,13912345678,y", b"z,139 1234 5678,w", b"tail"]
    data = b"\n".join(lines) + b"\n"
    matcher = Matcher([Pattern(b"12345678", False), Pattern(b"1234 5678", False)])
    for size in (1, 3, 7, 16, len(data)):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        found = list(matcher.scan(chunks))
        offsets = [len(lines[0]) + 1, len(lines[0]) + len(lines[1]) + 2]
        assert [(c.offset, c.raw) for c in found] == list(zip(offsets, lines[1:3], strict=True)), (
            size
        )


def test_line_without_breaks_is_cut_to_a_bounded_window():
    blob = b"a" * 100_000 + b"13912345678" + b"b" * 100_000
    matcher = Matcher([Pattern(b"12345678", False)])
    (found,) = list(matcher.scan([blob[i : i + 65536] for i in range(0, len(blob), 65536)]))
    assert b"13912345678" in found.raw and len(found.raw) <= 2 * 4096 + 16


def test_text_reader_yields_bounded_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "CHUNK_BYTES", 1 << 16)
    path = tmp_path / "big.csv"
    path.write_bytes(b"x,13700001111,2026-01-01\n" * 20_000)
    sizes = [len(c) for c in readers.raw_chunks(path)]
    assert max(sizes) <= 1 << 16 and sum(sizes) == path.stat().st_size


def test_memory_stays_flat_on_a_large_file(context, world, tmp_path, monkeypatch):
    from canary.security.tokens import SYSTEM

    monkeypatch.setattr(readers, "CHUNK_BYTES", 1 << 20)
    block = "".join(f"{i},赵敏,137{i:08d},2026-10-01,瑞金医院\n" for i in range(20_000)).encode()
    path = tmp_path / "big.csv"
    with open(path, "wb") as fh:
        for _ in range(30):  # ~30 MB
            fh.write(block)
        fh.write("欧阳静,186 1111 2222\n".encode())
    tracemalloc.start()
    try:
        result = scan(context, path, principal=SYSTEM)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert {f["canary_id"] for f in result.found} == {world.canaries["ouyang"]}
    assert result.found[0]["locations"] == [f"byte {30 * len(block)}"]
    assert peak < 12 << 20, peak  # a few 1 MiB chunks, not the 30 MB file
