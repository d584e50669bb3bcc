"""A CSV input file read by DuckDB's own CSV reader, never whole into Python.

An 8.5-million-line orders file used to be read whole (its bytes, then a polars frame of text, then an
Arrow copy for the insert): 4 GiB at the peak. Here the file is

1. *scanned* once in chunks (:data:`CHUNK_BYTES`): its SHA-256, a check that it is UTF-8 (naming the byte
   and line where it is not), its separator (``;`` where the header has more semicolons than commas, else
   ``,``) and its header (the first record, read with Python's ``csv`` module);
2. *selected* by DuckDB: :func:`select_sql` is one ``SELECT`` over ``read_csv`` with every column read as
   text, each cell stripped of surrounding whitespace (what polars' ``str.strip_chars`` strips; not tried
   where the scan proved no cell can have any: :attr:`CsvLayout.plain`) with an empty cell read as null, the schema's columns in order (an absent one as null), the columns beyond the
   contract as one JSON object (``_extra``) and each record's 1-based number (``_source_row``), which the
   warehouse inserts straight into the raw table (:meth:`warehouse.raw_loads.RawLoads.land`).

Record numbers come from ``row_number() OVER ()`` over the reader: DuckDB documents that the CSV reader
and a window function with an empty ``OVER`` keep the file's order while ``preserve_insertion_order`` is on
(its default, which :func:`check_order_kept` insists on); the reader runs single-threaded
(``parallel = false``, which also lets short rows be padded with nulls next to quoted line breaks).
A record is a data row, not a physical line: a quoted cell may span lines. A blank line is no record
(in a file of one column it is a row with an empty cell), as in Python's ``csv`` and DuckDB.

The same SQL gives the rows as a polars frame for small callers and tests (:func:`read_frame`).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from data_contracts import schema

__all__ = ["CHUNK_BYTES", "GLOB_CHARACTERS", "WHITESPACE", "CsvLayout", "CsvParseError", "check_order_kept", "count_rows",
           "ends_mid_line", "one_thread", "read_frame", "scan_csv", "select_sql"]

#: Characters that make DuckDB's ``read_csv`` read a path as a pattern of file names (a glob).
GLOB_CHARACTERS = ("*", "?", "[", "{")

#: Bytes read at a time while hashing and checking a file.
CHUNK_BYTES = 8 * 2**20

#: What polars' ``str.strip_chars()`` removes around a cell (Unicode White_Space, as Rust's ``char::is_whitespace``).
WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + \
    "\u2028\u2029\u202f\u205f\u3000"

#: A cell that starts and ends with a printable ASCII character needs no stripping (the common case; a
#: full-match regex is 7× cheaper than ``trim`` with a set of characters).
_PLAIN = "[!-~](.*[!-~])?"


#: Bytes whose absence from an ASCII file means no cell begins or ends with whitespace (with ``\r`` only
#: in line ends): no blank, tab, vertical tab, form feed, and no quote (a quoted cell may hold a line break).
_EDGE_BYTES = (b" ", b"\t", b"\x0b", b"\x0c", b'"')


class CsvParseError(ValueError):
    """DuckDB's reader refused the file (a row with more cells than the header, a stray quote)."""


@dataclass(frozen=True)
class CsvLayout:
    """What :func:`scan_csv` found: the dialect, the header and the file's state when it was hashed.

    Attributes:
        separator: ``,`` or ``;``.
        header: The header's names as written (duplicates renamed as polars does: ``a``, ``a_duplicated_0``).
        size: File size in bytes when scanned.
        mtime_ns: Modification time (ns) when scanned; with ``size``, what tells the file changed since.
        plain: No cell can begin or end with whitespace: ASCII text without quotes, blanks, tabs, vertical
            tabs, form feeds or a carriage return outside ``\r\n`` (so a cell needs no stripping).
        cut_off: The file ends mid-line (:func:`ends_mid_line`): its exporter likely died before the rest.
    """

    separator: str
    header: tuple[str, ...]
    size: int
    mtime_ns: int
    plain: bool = False
    cut_off: bool = False

    @property
    def names(self) -> list[str]:
        """The header's names stripped of surrounding blanks (what the contract matches)."""
        return [n.strip() for n in self.header]


def _utf16_hint(head: bytes) -> str:
    """What a UTF-16 byte-order mark at the start of a file says (a spreadsheet's "Unicode text")."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return ' (it starts with a UTF-16 byte-order mark, as a spreadsheet\'s "Unicode text" does: save it as "CSV UTF-8")'
    return ""


def scan_csv(path: Path, error: type[Exception] = ValueError) -> tuple[str, CsvLayout]:
    """Hash ``path`` in chunks, check it is UTF-8 text with a header; its digest and layout.

    Lines are counted only to name the line of an error (:func:`_line_at`, reading the file again), and
    ``\r`` against ``\r\n`` only in a chunk holding a ``\r``: the scan of a clean file is the hash and a few
    byte searches.

    Raises:
        error: the file is empty (rule ``header``) or not UTF-8 (rule ``utf8_encoding``, naming the byte
            and its line).
    """
    st = os.stat(path)
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, seen_text, first, plain = 0, False, b"", True
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
            if not first:
                first = chunk[:65536]
            seen_text = seen_text or not chunk.isspace()
            if not chunk.isascii() or decoder.getstate()[0]:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    line = _line_at(path, offset + exc.start)
                    raise error(f"{path.name}: not UTF-8 text: byte 0x{chunk[exc.start]:02x} on line {line} "
                                f"(rule: utf8_encoding); export the file as UTF-8{_utf16_hint(first)}.") from None
            offset += len(chunk)
            plain = plain and chunk.isascii() and not any(b in chunk for b in _EDGE_BYTES) and (
                b"\r" not in chunk or chunk.count(b"\r") == chunk.count(b"\r\n"))
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise error(f"{path.name}: not UTF-8 text: the file ends inside a character on line "
                    f"{_line_at(path, offset)} (rule: utf8_encoding); export the file as UTF-8.") from None
    if not seen_text:
        raise error(f"{path.name}: the file is empty, not even a header row (rule: header).")
    if first.startswith(codecs.BOM_UTF8):
        first = first[len(codecs.BOM_UTF8):]
    end = first.find(b"\n")
    line = (first if end < 0 else first[:end]).decode("utf-8", errors="replace")
    if re.fullmatch(r"sep=.", line.strip()):
        raise error(f"{path.name}: the first line {line.strip()!r} is a spreadsheet's separator hint, not the "
                    "header (rule: header); remove that line: the separator (',' or ';') is read from the header.")
    separator = ";" if line.count(";") > line.count(",") else ","
    with open(path, encoding="utf-8-sig", newline="") as f:
        header = next(csv.reader(f, delimiter=separator), [])
    if not header:
        raise error(f"{path.name}: the file is empty, not even a header row (rule: header).")
    names = tuple(_dedupe(header))
    cut_off = ends_mid_line(path, separator, len(names))
    return digest.hexdigest(), CsvLayout(separator, names, st.st_size, st.st_mtime_ns, plain, cut_off)


#: Bytes read from a file's end to find its last line (a longer last line is not judged).
_TAIL_BYTES = 65536


def ends_mid_line(path: Path, separator: str, fields: int) -> bool:
    """Whether the file's last line has no line end and fewer than ``fields`` cells: an export cut off
    mid-line, whose last row the contracts quarantine for its empty or truncated cells while nothing else
    says the rest of the file never arrived. A complete last line without a final newline is no cut.

    Only the file's last bytes (:data:`_TAIL_BYTES`) are read. A last line longer than that, the header
    itself, or one holding a quote (a quoted cell may span lines) is not judged: False, as before.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(max(0, size - _TAIL_BYTES))
        tail = f.read()
    if not tail or tail.endswith((b"\n", b"\r")):
        return False
    start = tail.rfind(b"\n")
    if start < 0 or b'"' in tail[start:]:  # the header's line, a longer line, or a quoted cell
        return False
    last = tail[start + 1:].decode("utf-8", errors="replace")
    return bool(last.strip()) and last.count(separator) + 1 < fields


def _line_at(path: Path, offset: int) -> int:
    """The 1-based line of the byte at ``offset`` (line breaks before it, plus one)."""
    lines = 0
    with open(path, "rb") as f:
        while offset > 0 and (chunk := f.read(min(CHUNK_BYTES, offset))):
            lines += chunk.count(b"\n")
            offset -= len(chunk)
    return lines + 1


def _dedupe(names: list[str]) -> list[str]:
    """A repeated header name renamed as polars names it (``a``, ``a_duplicated_0``, ``a_duplicated_1``)."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            out.append(f"{n}_duplicated_{seen[n]}")
            seen[n] += 1
        else:
            out.append(n)
            seen[n] = 0
    return out


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _reader(path: Path, layout: CsvLayout) -> str:
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(layout.header))) + "}"
    return (
        f"read_csv({_literal(str(path))}, columns = {columns}, header = true, delim = {_literal(layout.separator)}, "
        "quote = '\"', escape = '\"', auto_detect = false, null_padding = true, strict_mode = true, "
        "parallel = false)"
    )


def _cell(i: int, plain: bool) -> str:
    c = f"c{i}"
    if plain:
        return f"nullif({c}, '')"
    return (f"CASE WHEN regexp_full_match({c}, '{_PLAIN}') THEN {c} "
            f"ELSE nullif(trim({c}, {_literal(WHITESPACE)}), '') END")


def select_sql(path: Path, layout: CsvLayout, entity: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The SQL selecting ``entity``'s conformed raw rows of the file, in the file's order.

    Returns:
        ``(sql, missing, extra)``: the query's columns are the schema's columns in order, ``_extra`` and
        ``_source_row``; ``missing`` the schema columns the header lacks, ``extra`` the header's others.
    """
    table = schema.table(entity)
    names = layout.names
    first = {}
    for i, n in enumerate(names):
        first.setdefault(n, i)
    missing = tuple(c for c in table.columns if c not in first)
    extra = tuple(n for n in dict.fromkeys(names) if n not in table.columns)
    cols = [f'{_cell(first[c], layout.plain)} AS "{c}"' if c in first else f'NULL::VARCHAR AS "{c}"' for c in table.columns]
    if extra:
        pairs = ", ".join(f"{_literal(n)}, {_cell(first[n], layout.plain)}" for n in extra)
        cols.append(f"json_object({pairs}) AS {schema.RAW_EXTRA}")
    else:
        cols.append(f"NULL::VARCHAR AS {schema.RAW_EXTRA}")
    cols.append(f"row_number() OVER () AS {schema.SOURCE_ROW}")
    return f"SELECT {', '.join(cols)} FROM {_reader(path, layout)}", missing, extra


@contextmanager
def one_thread(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB on one thread inside the block, its thread count restored after (outside a transaction:
    DuckDB refuses a ``SET`` in a failed one).

    A file's rows come from one thread anyway (``parallel = false``, then the record numbers' window); with a
    second thread DuckDB inserts them through its order-keeping batch insert (``BATCH_INSERT`` in
    ``EXPLAIN ANALYZE``, plain ``INSERT`` on one thread) while the calling thread polls it: 3.2–3.4 CPU-s
    against 1.2–1.3 for a million order lines, and more wall time too (docs/contracts-ingest.md).
    """
    (threads,) = con.execute("SELECT current_setting('threads')").fetchone()
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        con.execute(f"SET threads = {int(threads)}")


def check_order_kept(con: duckdb.DuckDBPyConnection) -> None:
    """Refuse a connection that may reorder rows: record numbers rely on DuckDB keeping the file's order."""
    (kept,) = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    if not kept:
        raise RuntimeError("preserve_insertion_order is off: the CSV rows' numbers would not be the file's order")


def _parse_error(path: Path, exc: duckdb.Error) -> CsvParseError:
    text = str(exc).strip().splitlines()
    return CsvParseError(f"{path.name}: cannot be parsed as CSV (rule: csv_format): "
                         f"{text[0] if text else type(exc).__name__}")


def count_rows(path: Path, layout: CsvLayout) -> int:
    """Records in the file, as :func:`select_sql` reads them (every record parsed).

    Raises:
        CsvParseError: DuckDB's reader refuses the file.
    """
    con = duckdb.connect()
    try:
        return int(con.execute(f"SELECT count(*) FROM {_reader(path, layout)}").fetchone()[0])
    except duckdb.Error as exc:
        raise _parse_error(path, exc) from None
    finally:
        con.close()


def run_select(
    con: duckdb.DuckDBPyConnection, path: Path, sql: str, params: list[object] | None = None
) -> duckdb.DuckDBPyConnection:
    """Execute ``sql`` (built on :func:`select_sql`) on ``con``; a refused file raises :class:`CsvParseError`."""
    check_order_kept(con)
    try:
        return con.execute(sql, params or [])
    except (duckdb.InvalidInputException, duckdb.ConversionException) as exc:
        raise _parse_error(path, exc) from None


def read_frame(path: Path, layout: CsvLayout, entity: str) -> pl.DataFrame:
    """The rows :func:`select_sql` selects, as a polars frame (for small files and tests)."""
    sql, _, _ = select_sql(path, layout, entity)
    con = duckdb.connect()
    try:
        frame = run_select(con, path, sql).pl()
    finally:
        con.close()
    return frame.with_columns(pl.col(schema.SOURCE_ROW).cast(pl.Int64))
