"""JSON (an array of objects) and NDJSON (one object per line).

Real records are never re-dumped: the writer splices canary objects into the original
text, so key order, spacing and number formatting ("3340.0", "1e3") stay as they were.
A canary object is written in the layout of its neighbour: the neighbour's text with
each value replaced.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass
from pathlib import Path

from canary.feeds.base import Progress, Target, WriteStats, check_canary_values, check_positions
from canary.feeds.encoding import detect
from canary.feeds.errors import EmptyFile, HeaderOnly, InvalidJson, MissingColumn
from canary.feeds.layout import SampleBuilder
from canary.feeds.splice import Cut, atomic_outputs, splice
from canary.forging.plan import InjectionPlan, SerialSpec

_WS = re.compile(r"[ \t\r\n]*")


class RawNumber(str):
    """A JSON number kept as its source text."""


_DECODER = json.JSONDecoder(parse_int=RawNumber, parse_float=RawNumber, parse_constant=RawNumber)


@dataclass
class JsonObject:
    start: int  # character offsets in the decoded text
    end: int
    values: dict[str, object]
    spans: dict[str, tuple[int, int]]  # key -> value span (characters)


def _cell(value: object) -> str:
    if isinstance(value, str):  # includes RawNumber: its literal text
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def _parse_object(text: str, i: int, where: str) -> JsonObject:
    start = i
    if text[i : i + 1] != "{":
        raise InvalidJson(f"{where} is not a JSON object; the feed must hold objects")
    i = _WS.match(text, i + 1).end()
    values: dict[str, object] = {}
    spans: dict[str, tuple[int, int]] = {}
    if text[i : i + 1] == "}":
        return JsonObject(start, i + 1, values, spans)
    while True:
        key, i = _DECODER.raw_decode(text, i)
        i = _WS.match(text, i).end()
        if text[i : i + 1] != ":":
            raise InvalidJson(f"{where}: expected ':' after a key")
        i = _WS.match(text, i + 1).end()
        vstart = i
        value, i = _DECODER.raw_decode(text, i)
        values[key], spans[key] = value, (vstart, i)
        i = _WS.match(text, i).end()
        ch = text[i : i + 1]
        if ch == "}":
            return JsonObject(start, i + 1, values, spans)
        if ch != ",":
            raise InvalidJson(f"{where}: expected ',' or '}}' between fields")
        i = _WS.match(text, i + 1).end()


class JsonFile:
    """A scanned JSON or NDJSON delivery (held in memory: such feeds are small)."""

    def __init__(self, path: Path, *, fmt: str = "json", column_map: dict | None = None) -> None:
        self.path, self.fmt = Path(path), fmt
        self.encoding = detect(self.path)
        raw = self.path.read_bytes()[len(self.encoding.bom) :]
        self.text = raw.decode(self.encoding.name)
        if not self.text.strip():
            raise EmptyFile("the file is empty; nothing was written")
        self.ascii_escapes = "\\u" in self.text and not any(ord(c) > 127 for c in self.text)
        try:
            self.objects = self._parse_lines() if fmt == "ndjson" else self._parse_array()
        except (json.JSONDecodeError, IndexError) as exc:
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "unexpected end"
            raise InvalidJson(
                f"the file is not valid {fmt.upper()} ({msg}); nothing was written"
            ) from None
        if not self.objects:
            raise HeaderOnly("the file holds no records; nothing was written")
        self.header = list(dict.fromkeys(k for o in self.objects for k in o.values))
        missing = [c for c in dict.fromkeys((column_map or {}).values()) if c not in self.header]
        if missing:
            raise MissingColumn(
                "the feed's column mapping names key(s) the records do not have: "
                + ", ".join(repr(c) for c in missing)
                + "; fix the mapping or the file"
            )
        self.kinds = {k: self._kind(k) for k in self.header}
        sampler = SampleBuilder(self.header)
        for obj in self.objects:
            sampler.add([_cell(obj.values.get(k)) for k in self.header])
        self.total = len(self.objects)
        self.sample = sampler.build({"format": fmt, "encoding": self.encoding.label})

    def _parse_array(self) -> list[JsonObject]:
        i = _WS.match(self.text).end()
        if self.text[i : i + 1] != "[":
            raise InvalidJson("the file must be a JSON array of objects ([{...}, ...])")
        i = _WS.match(self.text, i + 1).end()
        objects: list[JsonObject] = []
        if self.text[i : i + 1] == "]":
            return objects
        while True:
            obj = _parse_object(self.text, i, f"item {len(objects) + 1}")
            objects.append(obj)
            i = _WS.match(self.text, obj.end).end()
            if self.text[i : i + 1] == "]":
                break
            if self.text[i : i + 1] != ",":
                raise InvalidJson(f"item {len(objects)}: expected ',' or ']' after it")
            i = _WS.match(self.text, i + 1).end()
        if self.text[_WS.match(self.text, i + 1).end() :].strip():
            raise InvalidJson("there is text after the closing ']' of the array")
        return objects

    def _parse_lines(self) -> list[JsonObject]:
        objects, pos = [], 0
        for n, line in enumerate(self.text.splitlines(keepends=True), 1):
            i = _WS.match(line).end()
            if i < len(line.rstrip("\r\n")) or line.strip():
                obj = _parse_object(self.text, pos + i, f"line {n}")
                if self.text[obj.end : pos + len(line)].strip():
                    raise InvalidJson(f"line {n} has text after its object")
                objects.append(obj)
            pos += len(line)
        return objects

    def _kind(self, key: str) -> str:
        kinds = {
            "number" if isinstance(v, RawNumber) else "string" if isinstance(v, str) else "other"
            for o in self.objects
            if key in o.values and (v := o.values[key]) is not None
        }
        return kinds.pop() if len(kinds) == 1 else "string"

    # -- writing --------------------------------------------------------------------------

    def _literal(self, key: str, value: str) -> str:
        if self.kinds.get(key) == "number" and re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", value):
            return value
        if self.kinds.get(key) == "other":
            try:
                json.loads(value)
                return value
            except ValueError:
                pass
        return json.dumps(value, ensure_ascii=self.ascii_escapes)

    def _render(self, template: JsonObject, values: list[str]) -> str:
        by_key = dict(zip(self.header, values, strict=True))
        out, cursor = [], template.start
        for key, (s, e) in sorted(template.spans.items(), key=lambda kv: kv[1]):
            out.append(self.text[cursor:s])
            out.append(self._literal(key, by_key.get(key, "")))
            cursor = e
        out.append(self.text[cursor : template.end])
        return "".join(out)

    def _separator(self) -> str:
        if len(self.objects) > 1:
            return self.text[self.objects[0].end : self.objects[1].start]
        return "\n" if self.fmt == "ndjson" else ", "

    def _insertion(self, plan: InjectionPlan, position: int) -> str:
        rows = [r for r in plan.rows if r.position == position]
        if not rows:
            return ""
        template = self.objects[min(position, self.total - 1) if position else 0]
        sep = self._separator()
        rendered = [self._render(template, r.values) for r in rows]
        if position < self.total:
            return "".join(t + sep for t in rendered)
        return "".join(sep + t for t in rendered)

    def write(self, targets: list[Target], progress: Progress | None = None) -> list[WriteStats]:
        """Write one output per target from the one parsed input."""
        for t in targets:
            check_positions(t.plan, self.total)
            check_canary_values(t.plan, len(self.header))
        enc = self.encoding.name
        positions = sorted({r.position for t in targets for r in t.plan.rows})
        at = [self.objects[p].start if p < self.total else self.objects[-1].end for p in positions]
        # A serial the plans renumber: the value of that key in every record may move.
        serial_keys = {self.header[t.plan.serial.column] for t in targets if t.plan.serial}
        spans = [
            (obj.spans[key], j, key)
            for j, obj in enumerate(self.objects)
            for key in serial_keys
            if key in obj.spans
        ]
        offsets = self._byte_offsets([*at, *(c for (s, e), _, _ in spans for c in (s, e))])
        cuts = [
            Cut(offsets[c], offsets[c], ("insert", p)) for c, p in zip(at, positions, strict=True)
        ]
        cuts += [Cut(offsets[s], offsets[e], ("serial", j, key)) for (s, e), j, key in spans]
        cuts.sort(key=lambda cut: cut.start)

        def replacer(plan: InjectionPlan):
            above = sorted(r.position for r in plan.rows)

            def replace(cut: Cut, _orig: bytes) -> bytes | None:
                if cut.key[0] == "insert":
                    return self._insertion(plan, cut.key[1]).encode(enc)
                _, j, key = cut.key
                spec = plan.serial
                if spec is None or self.header[spec.column] != key:
                    return None
                # A canary at position p is written before record p.
                moved = spec.move(len(above), bisect.bisect_right(above, j))
                return self._renumbered(spec, j, key, moved)

            return replace

        with atomic_outputs([t.path for t in targets]) as handles, open(self.path, "rb") as src:
            splice(
                src, [(h, replacer(t.plan)) for h, t in zip(handles, targets, strict=True)], cuts
            )
        return [
            WriteStats(t.path, self.total + len(t.plan.rows), len(t.plan.rows)) for t in targets
        ]

    def _renumbered(self, spec: SerialSpec, j: int, key: str, moved: int) -> bytes | None:
        """Record ``j``'s serial literal moved by ``moved`` (None: keep it as it is)."""
        if not moved:
            return None
        try:
            text = spec.format(spec.parse(_cell(self.objects[j].values[key])) + moved)
        except (ValueError, TypeError):
            return None  # a blank or a note in the serial column stays as it was
        return self._literal(key, text).encode(self.encoding.name)

    def _byte_offsets(self, chars: list[int]) -> dict[int, int]:
        """Byte offset in the file of each character offset in the decoded text."""
        out: dict[int, int] = {}
        char, byte = 0, len(self.encoding.bom)
        for c in sorted(set(chars)):
            byte += len(self.text[char:c].encode(self.encoding.name))
            out[c], char = byte, c
        return out
