"""Read an input folder (one CSV or Parquet file per entity) as text, exactly as the files say.

Every value is kept as a string (null for an empty cell) so that nothing is lost before the contracts
decide what is valid: a text in a number column must land in the warehouse as it was, then be
quarantined. Each frame carries the schema's columns in order (absent ones as null), the columns a file
had beyond the contract as one JSON column, and its source file and 1-based data row number. A CSV file
keeps its rows in the file until the warehouse lands them with DuckDB's reader (:mod:`warehouse.csv_load`):
reading it here hashes and checks it in chunks; its records are parsed once, when landed.
"""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

import polars as pl

from data_contracts import schema
from data_contracts.casting import cast_expr
from data_contracts.safe_text import neutralise_formulas
from warehouse import csv_load
from warehouse.csv_load import CsvLayout

__all__ = ["InputChanged", "SourceError", "SourceFile", "SourceUnavailable", "entity_files",
           "find_entity_file", "read_folder", "read_source_file"]

_SUFFIXES = tuple(f".{fmt}" for fmt in schema.INPUT_FILE_FORMATS)
#: Parquet column types refused besides nested ones (lists, structs, arrays): no text form to check.
_NOT_TEXT = (pl.Binary, pl.Object)


class SourceError(Exception):
    """A source that cannot be read at all (missing, empty, not UTF-8, truncated); names the file and rule."""


class InputChanged(SourceError):
    """An input file changed while it was read: the rows read may be half of a new file (also
    :mod:`warehouse.arrival`'s, which checks a folder's files; here for the landing's own checks)."""


class SourceUnavailable(SourceError):
    """A source that is not there yet or cannot be reached (a folder not delivered, a database down):
    possibly transient, worth a retry, unlike other :class:`SourceError` s, which the same input raises again."""


class SourceFile:
    """One entity's file read as text.

    A Parquet file or a database table is read into ``frame``. A CSV file is not: its rows stay in the file
    until the warehouse lands them with DuckDB's reader (:mod:`warehouse.csv_load`, ``csv`` holds its
    layout); ``frame`` then reads them with the same SQL on first use (for small callers and tests).
    """

    def __init__(self, entity: str, path: Path, content_hash: str, frame: pl.DataFrame | None = None,
                 missing_columns: tuple[str, ...] = (), extra_columns: tuple[str, ...] = (),
                 csv: CsvLayout | None = None) -> None:
        if (frame is None) == (csv is None):
            raise ValueError("a source file has either a frame or a CSV layout")
        self.entity, self.path, self.content_hash = entity, Path(path), content_hash
        self.missing_columns, self.extra_columns, self.csv = missing_columns, extra_columns, csv
        self._frame = frame  # schema columns as String, plus RAW_EXTRA and SOURCE_ROW (load id added on landing)
        self._rows: int | None = None if frame is None else frame.height

    @property
    def frame(self) -> pl.DataFrame:
        if self._frame is None:
            try:
                self._frame = csv_load.read_frame(self.path, self.csv, self.entity)
            except csv_load.CsvParseError:
                self.read_whole()
        return self._frame

    @property
    def row_count(self) -> int:
        """Rows of the file: known once landed (:meth:`warehouse.raw_loads.RawLoads.land`), else counted by
        DuckDB's reader (a CSV file) or the frame's height."""
        if self._rows is None:
            if self._frame is None and self.csv is not None:
                try:
                    self._rows = csv_load.count_rows(self.path, self.csv)
                    return self._rows
                except csv_load.CsvParseError:
                    pass  # read whole below, or refused with polars' message
            self._rows = self.frame.height
        return self._rows

    def landed(self, rows: int) -> None:
        """Record the rows the warehouse landed of this file, or had landed before from the same content
        (:meth:`warehouse.raw_loads.RawLoads.land`): ``row_count`` is then that number, not counted again."""
        self._rows = rows

    def read_whole(self) -> None:
        """Read a CSV file DuckDB's reader refused whole with polars, as every file was read before: line ends
        mixing ``\\n`` and ``\\r\\n`` (which polars reads), or a row with more cells than the header (which
        it refuses too). Afterwards the rows are in ``frame`` and ``csv`` is None.

        Raises:
            SourceError: polars cannot parse the file either (rule ``csv_format``, polars' message).
            InputChanged: the bytes read now are not those hashed (rule ``input_unchanged``).
        """
        data = self.path.read_bytes()
        if hashlib.sha256(data).hexdigest() != self.content_hash:
            raise InputChanged(f"{self.path.name}: changed after it was hashed, before its rows were read "
                               "(rule: input_unchanged); nothing read is used. Run again when the delivery is "
                               "complete.")
        whole = _conform(_read_csv(self.path, data), self.path, self.entity, self.content_hash)
        self._frame, self.csv, self._rows = whole.frame, None, whole.frame.height
        self.missing_columns, self.extra_columns = whole.missing_columns, whole.extra_columns

    def __repr__(self) -> str:
        return f"SourceFile({self.entity!r}, {str(self.path)!r}, rows={self._rows})"


def find_entity_file(folder: Path, entity: str) -> Path | None:
    """The file holding ``entity`` in ``folder`` (``<entity>.csv`` or ``.parquet``), or None."""
    found = [folder / f"{entity}{suffix}" for suffix in _SUFFIXES if (folder / f"{entity}{suffix}").is_file()]
    if len(found) > 1:
        raise SourceError(
            f"{folder}: both {found[0].name} and {found[1].name} exist for entity {entity!r} "
            "(rule: one_file_per_entity); keep one."
        )
    return found[0] if found else None


def read_folder(folder: Path) -> list[SourceFile]:
    """Read every input entity file present in ``folder``.

    Missing files are not an error here: which entities are required is the contracts' rule.

    Raises:
        SourceError: the folder does not exist, or a file cannot be read.
    """
    return [read_source_file(path, entity) for entity, path in entity_files(folder)]


def entity_files(folder: Path) -> list[tuple[str, Path]]:
    """``(entity, file)`` for every input entity with a file in ``folder``, in the schema's order.

    Raises:
        SourceUnavailable: the folder does not exist.
        SourceError: an entity has both a CSV and a Parquet file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceUnavailable(f"input folder {folder} does not exist (rule: input_folder).")
    found = [(t.name, find_entity_file(folder, t.name)) for t in schema.INPUT_ENTITIES]
    return [(entity, path) for entity, path in found if path is not None]


def read_source_file(path: Path, entity: str) -> SourceFile:
    """Read one entity file as text with its content hash."""
    if path.suffix != ".parquet":
        return _csv_source(path, entity)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    frame = _read_parquet(path, data)
    del data  # the file's bytes are not kept while the frame is conformed
    return _conform(frame, path, entity, digest)


def _csv_source(path: Path, entity: str) -> SourceFile:
    """A CSV file hashed and checked in chunks; its rows are parsed when landed
    (:meth:`warehouse.raw_loads.RawLoads.land`), not here: DuckDB's reader parses every record as it inserts
    it, so counting them first parsed the file twice.

    A path DuckDB would take for a pattern of file names (holding ``*``, ``?``, ``[`` or ``{``) is read whole
    by polars here, as every file was before; a file DuckDB's reader refuses (a row with more cells than the
    header, or line ends mixing CRLF and LF, which its reader cannot follow) is read whole by polars when
    landed or read (:meth:`SourceFile.read_whole`): read if polars can, else refused with polars' message.
    """
    if any(ch in str(path) for ch in csv_load.GLOB_CHARACTERS):  # DuckDB would read the path as a pattern
        data = path.read_bytes()
        return _conform(_read_csv(path, data), path, entity, hashlib.sha256(data).hexdigest())
    digest, layout = csv_load.scan_csv(path, SourceError)
    _, missing, extra = csv_load.select_sql(path, layout, entity)
    return SourceFile(entity, path, digest, None, missing, extra, csv=layout)


def _read_csv(path: Path, data: bytes) -> pl.DataFrame:
    # The bytes are parsed as they are (no decoded, split or re-encoded copies of a 500 MiB file).
    if not data or data.isspace():
        raise SourceError(f"{path.name}: the file is empty, not even a header row (rule: header).")
    try:
        data.decode("utf-8-sig")  # checked only; the text is dropped at once
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(
            f"{path.name}: not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line} "
            "(rule: utf8_encoding); export the file as UTF-8."
        ) from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    end = data.find(b"\n")
    header = ((data if end < 0 else data[:end]).decode("utf-8").splitlines() or [""])[0]
    separator = ";" if header.count(";") > header.count(",") else ","
    try:
        return pl.read_csv(
            data,
            separator=separator,
            infer_schema=False,
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise SourceError(f"{path.name}: cannot be parsed as CSV (rule: csv_format): {_first_line(exc)}") from None


def _read_parquet(path: Path, data: bytes) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(data)
    except Exception as exc:  # polars raises several kinds for a damaged file
        raise SourceError(
            f"{path.name}: cannot be read as Parquet (rule: parquet_format): {_first_line(exc)}"
        ) from None
    refused = [f"{c} ({t})" for c, t in frame.schema.items() if t.is_nested() or t in _NOT_TEXT]
    if refused:
        raise SourceError(
            f"{path.name}: column(s) {', '.join(refused)} are of a nested or binary type, which the input "
            "contract has no text form for (rule: parquet_column_type); export them as plain text, "
            "number, date or boolean columns."
        )
    return frame.select(pl.col(c).cast(pl.String) for c in frame.columns)


def _conform(frame: pl.DataFrame, path: Path, entity: str, digest: str) -> SourceFile:
    """Schema columns in order (absent → null), extra columns into one JSON column, row numbers."""
    table = schema.table(entity)
    columns = [c.strip() for c in frame.columns]
    frame = frame.rename(dict(zip(frame.columns, columns)))
    # An empty cell means null whatever the column; strip surrounding blanks.
    # Column by column: a new copy of one column at a time, not of the whole frame at once.
    for c in columns:
        frame = frame.with_columns(pl.col(c).str.strip_chars().replace("", None))
    extra = tuple(c for c in columns if c not in table.columns)
    missing = tuple(c for c in table.columns if c not in columns)
    if extra:
        extra_json = frame.select(pl.struct(list(extra)).struct.json_encode().alias(schema.RAW_EXTRA))
    else:
        extra_json = pl.DataFrame({schema.RAW_EXTRA: [None] * frame.height}, schema={schema.RAW_EXTRA: pl.String})
    out = frame.with_columns(pl.lit(None, pl.String).alias(c) for c in missing).select(table.column_names)
    out = out.with_columns(
        extra_json.to_series(),
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(schema.SOURCE_ROW),
    )
    return SourceFile(entity, path, digest, out, missing, extra)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__



_DEMAND_COLUMNS = {"product_id": pl.String, "site_id": pl.String, "week": pl.Date, "quantity": pl.Float64}


def read_demand_file(path: Path, products: pl.DataFrame, sites: pl.DataFrame) -> pl.DataFrame:
    """A consensus demand file (product_id, site_id, week, quantity; CSV or Parquet), checked.

    Raises:
        SourceError: unreadable, a missing column, a value of the wrong type, a week that is not a
            Monday, a negative quantity, or an unknown product or site; the message names the rows.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"demand file {path} does not exist (rule: demand_file).")
    frame = (_read_parquet if path.suffix == ".parquet" else _read_csv)(path, path.read_bytes())
    frame = frame.rename({c: c.strip() for c in frame.columns})
    missing = [c for c in _DEMAND_COLUMNS if c not in frame.columns]
    if missing:
        raise SourceError(f"{path.name}: missing column(s) {', '.join(missing)} (rule: required_columns).")
    # values read as the contracts read them: weeks ISO (a timestamp's date), never a guessed day-first date
    text = frame.select(pl.col(c).cast(pl.String).str.strip_chars() for c in _DEMAND_COLUMNS)
    typed = text.select(
        pl.col(c) if t == pl.String else cast_expr(c, t).alias(c) for c, t in _DEMAND_COLUMNS.items()
    ).with_row_index("row", offset=1)
    problems = {
        "type": pl.any_horizontal(pl.col(c).is_null() for c in _DEMAND_COLUMNS),
        "monday_week": pl.col("week").dt.weekday() != 1,
        "non_negative": pl.col("quantity") < 0,
        "known_product": ~pl.col("product_id").is_in(products["product_id"].implode()),
        "known_site": ~pl.col("site_id").is_in(sites["site_id"].implode()),
    }
    for rule, bad in problems.items():
        rows = typed.filter(bad.fill_null(False))
        if rows.height:
            shown = text.with_row_index("row", offset=1).filter(pl.col("row").is_in(rows["row"].head(3).implode()))
            raise SourceError(
                f"{path.name}: {rows.height} row(s) break rule {rule}; first rows as written: "
                f"{shown.to_dicts()}" + (" (weeks are ISO dates, YYYY-MM-DD, of a Monday)" if rule == "type" else "")
            )
    return typed.drop("row").group_by("product_id", "site_id", "week").agg(pl.col("quantity").sum())


def read_series_file(path: Path) -> pl.DataFrame:
    """A long series file (``unique_id, ds, y``; CSV or Parquet) with ds as a date and y as a finite number
    (``NaN`` and ``inf`` break the ``number`` rule, as the input contracts' numbers do).

    Raises:
        SourceError: unreadable, a missing column, a ds that is not a date or a y that is not a number
            (naming the first rows).
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"series file {path} does not exist (rule: series_file).")
    frame = (_read_parquet if path.suffix == ".parquet" else _read_csv)(path, path.read_bytes())
    frame = frame.rename({c: c.strip() for c in frame.columns})
    missing = [c for c in ("unique_id", "ds", "y") if c not in frame.columns]
    if missing:
        raise SourceError(f"{path.name}: missing column(s) {', '.join(missing)} (rule: series_columns: "
                          "unique_id, ds, y).")
    text = frame.select(pl.col("unique_id", "ds", "y").str.strip_chars()).with_row_index("row", offset=1)
    typed = text.with_columns(
        cast_expr("ds", pl.Date).alias("ds"), cast_expr("y", pl.Float64).alias("y")  # NaN, inf: no number
    )
    for column, rule in (("unique_id", "not_null"), ("ds", "iso_date"), ("y", "number")):
        bad = typed.filter(pl.col(column).is_null())
        if bad.height:
            rows = text.filter(pl.col("row").is_in(bad["row"].head(3).implode())).rows()
            raise SourceError(f"{path.name}: {bad.height} row(s) break rule {rule} in column {column}; first "
                              f"(row, unique_id, ds, y): {rows}{_period_numbers(text, column)}")
    return typed.drop("row")


def _period_numbers(text: pl.DataFrame, column: str) -> str:
    """A hint where every ``ds`` is a whole number (0, 1, 2 …: a period's index, as M1's and M4's files
    give): it has no calendar, so neither its frequency nor its season can be read from it."""
    if column != "ds" or text.get_column("ds").str.contains(r"^-?\d+$").not_().any():
        return ""
    return ". ds holds period numbers, not dates: date the periods (period t as 2000-01-01 plus t months)"


def write_frame(frame: pl.DataFrame, path: Path) -> Path:
    """Write a frame as CSV or Parquet by the path's suffix.

    In a CSV, a text cell starting like a spreadsheet formula (``= + - @``, tab, carriage return) is
    prefixed with ``'`` (the OWASP rule against CSV injection); Parquet keeps values as they are.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.write_parquet(path)
    else:
        neutralise_formulas(frame).write_csv(path)
    return path
