"""What the format readers hand to the forger: a header and a sample of rows."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TableSample:
    """A delivery's header and a sample of its data rows, as the text a reader sees.

    ``rows[i]`` is data row number ``indices[i]`` of the file (0-based, data rows only,
    excluding title, header and summary rows). For small files every row is present;
    for large ones the reader keeps the head, the tail and random contiguous blocks,
    so consecutive indices mean the two rows are neighbours in the file.
    """

    header: list[str]
    total_rows: int
    rows: list[list[str]]
    indices: list[int]
    # Free-form facts the reader noticed (encoding, delimiter, sheet) for reports.
    facts: dict = field(default_factory=dict)

    def row_at(self, index: int) -> list[str] | None:
        """The data row at a file index, if the sample holds it."""
        # indices are sorted; bisect keeps this cheap for large samples
        import bisect

        pos = bisect.bisect_left(self.indices, index)
        if pos < len(self.indices) and self.indices[pos] == index:
            return self.rows[pos]
        return None
