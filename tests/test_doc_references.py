"""Code that points a reader to a document points to one that exists: every ``docs/….md`` and README named in
a comment, docstring, option description or message of the code and tests is a file, and a section it quotes
(``docs/forecast-accuracy.md, "Stop 26"``, ``README, "Where it stands"``) or a stop it names
(``docs/campaign-solver.md, stop 25``) is a heading of that file (or the bold lead of a paragraph, the
histories' sub-sections). At stop 28 the README's history moved to ``docs/``, and comments kept pointing to
README sections that were gone; this keeps it from happening again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the folders whose code is read: every package, the benchmarks and the tests
CODE = ("cli", "data_contracts", "demo", "flows", "forecasting", "optimization", "report", "twin", "warehouse",
        "bench", "tests")

#: a document named in the code: ``docs/….md`` (or .sql, .png) or the README
_DOC = r"(?<![\w/.])(?P<doc>docs/[\w./-]*\w\.(?:md|sql|png)|README(?:\.md)?)(?![\w-])"
#: a section quoted right after it: ``, "Section"``, ``: 'Section'``, ``'s "Section"``
_QUOTED = r"(?:'s\s+|[,:]?\s+|[,:])(?:\"(?P<q1>[^\"]{1,120})\"|“(?P<q2>[^”]{1,120})”|'(?!s\s)(?P<q3>[^']{1,120})')"
#: stops named right after it: ``, stop 25``, ``, Stop 27``, ``stops 24-26``, ``stops 23 and 24``
_STOPS = r"[,:]?\s*[Ss]tops?\s+(?P<stops>\d+(?:\s*(?:-|–|,|and)\s*\d+)*)"


def _flat(text: str) -> str:
    """Source text with its line breaks undone: adjacent string literals joined (``"…weekly "`` ⏎
    ``"plan…"``), comment lines run on, every other break and its indentation one space; a quote escaped
    inside a string (``\\"``) read as the quote it prints."""
    text = text.replace('\\"', '"')
    text = re.sub(r"([\"'])\s*\n\s*\1", "", text)
    text = re.sub(r"\n\s*#:?\s?", " ", text)
    return re.sub(r"\s*\n\s*", " ", text)


def references() -> list[tuple[str, str, str | None, list[int]]]:
    """Every (code file, document, quoted section or None, stops named) in the code."""
    out = []
    for folder in CODE:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == Path(__file__).name:  # its examples are no references
                continue
            text = _flat(path.read_text(encoding="utf-8"))
            for m in re.finditer(_DOC, text):
                doc = "README.md" if m["doc"].startswith("README") else m["doc"]
                after = text[m.end():]
                quoted = re.match(_QUOTED, after)
                section = next((g for g in (quoted.groups() if quoted else ()) if g), None)
                named = re.match(_STOPS, after)
                stops = [int(n) for n in re.findall(r"\d+", named["stops"])] if named else []
                out.append((str(path.relative_to(ROOT)), doc, section, stops))
    return out


def _leads(doc: Path) -> list[str]:
    """A document's headings and bold paragraph leads, as text."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    return ([re.sub(r"^#+\s*", "", line) for line in lines if line.startswith("#")]
            + [line[2:] for line in lines if line.startswith("**")])


def _folded(text: str) -> str:
    """Text compared without markdown's backticks and bold, quotes' shapes or case."""
    return re.sub(r"[`*]", "", text).replace("’", "'").lower()


def test_the_scan_finds_every_form_of_reference():
    # the scan itself, on the forms in use: a quoted section, a section split over two string literals, stops
    text = _flat('x = ("see README: \'Running the weekly "\n      "plan against a cluster\'")\n'
                 "# (docs/campaign-solver.md, stops 24-26), docs/forecast-accuracy.md, \"Stop 26\"")
    found = []
    for m in re.finditer(_DOC, text):
        quoted, named = re.match(_QUOTED, text[m.end():]), re.match(_STOPS, text[m.end():])
        found.append((m["doc"], next((g for g in quoted.groups() if g), None) if quoted else None,
                      re.findall(r"\d+", named["stops"]) if named else []))
    assert found == [("README", "Running the weekly plan against a cluster", []),
                     ("docs/campaign-solver.md", None, ["24", "26"]),
                     ("docs/forecast-accuracy.md", "Stop 26", [])]


def test_every_document_the_code_names_exists():
    refs = references()
    assert len(refs) > 40  # the scan sees the code's references (49 docs/ paths at stop 29)
    missing = sorted({f"{src}: {doc}" for src, doc, _, _ in refs if not (ROOT / doc).is_file()})
    assert not missing, "documents named in the code that do not exist:\n" + "\n".join(missing)


@pytest.mark.parametrize("kind", ["quoted sections", "stops"])
def test_every_section_and_stop_the_code_names_is_in_its_document(kind):
    broken = []
    for src, doc, section, stops in references():
        if not (ROOT / doc).is_file():
            continue  # the test above names it
        leads = [_folded(lead) for lead in _leads(ROOT / doc)]
        if kind == "quoted sections" and section is not None:
            if not any(lead.startswith(_folded(section)) for lead in leads):
                broken.append(f'{src}: {doc}, "{section}"')
        if kind == "stops":
            for stop in stops:
                if not any(re.match(rf"stop {stop}\b", lead) for lead in leads):
                    broken.append(f"{src}: {doc}, stop {stop}")
    assert not broken, f"{kind} named in the code that are no heading of their document:\n" + "\n".join(broken)
