"""The documents a newcomer reads stay true to the tree: README.md, docs/*.md and deploy/README.md link
only to files (and headings) that exist, name only paths and settings that exist, and the README's layout
table has one row per package.

Paths are checked where the documents write them as code: in `backticks` and in fenced code blocks.
A path with a placeholder in it (`tests/<package>/...`) is a pattern, not a path, and is not checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tasks.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "deploy" / "README.md"]
PACKAGES = ("decomposition", "tasks", "workers")
PATH_ROOTS = (*PACKAGES, "benchmarks", "deploy", "tests")
NOT_LISTED = ("__init__.py", "errors.py")  # a package's own modules a layout row need not name

FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.MULTILINE)
PATH = re.compile(rf"(?<![\w./-])((?:{'|'.join(PATH_ROOTS)})/[^\s`'\",;:()]*)")
SETTING = re.compile(rf"\b{ENV_PREFIX}[A-Z0-9_]*[A-Z0-9]")


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def prose(text: str) -> str:
    """The text without its fenced code blocks."""
    return FENCE.sub("", text)


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives a document's headings: lower case, punctuation dropped, spaces as
    hyphens, a repeated heading numbered -1, -2, ..."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(prose(text)):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def broken_links(doc: Path) -> list[str]:
    """Each relative link of `doc` whose file, or heading in that file, does not exist."""
    broken = []
    for target in LINK.findall(prose(doc.read_text())):
        if "://" in target or target.startswith("mailto:"):
            continue
        path, _, fragment = target.partition("#")
        linked = (doc.parent / path).resolve() if path else doc
        if not linked.exists():
            broken.append(f"{target}: no file {linked}")
        elif fragment and fragment not in anchors(linked.read_text()):
            broken.append(f"{target}: no heading with anchor #{fragment} in {linked.name}")
    return broken


def written_paths(text: str) -> set[str]:
    """The repository paths a text writes as code: in backticks, or in a fenced code block."""
    code = [*CODE_SPAN.findall(prose(text)), *(m.group(0) for m in FENCE.finditer(text))]
    found = {path.rstrip(".") for chunk in code for path in PATH.findall(chunk)}
    return {path for path in found if not any(mark in path for mark in "<>*{}")}


def settings_variables() -> set[str]:
    """Every environment variable of the form SURGEPLAN_* that Settings reads."""
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(f"{ENV_PREFIX}{name.upper()}")
        names.update(getattr(field.validation_alias, "choices", []))
    return {name for name in names if name.startswith(ENV_PREFIX)}


def layout_rows() -> list[tuple[list[str], str]]:
    """The README's layout table: per row, the paths in its first cell and the whole row."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]  # past header and rule
    return [(CODE_SPAN.findall(row.split("|")[1]), row) for row in rows]


def packages() -> list[Path]:
    """The packages a layout row is owed: every package with modules of its own, but the migrations."""
    found = []
    for top in PACKAGES:
        for init in sorted((ROOT / top).rglob("__init__.py")):
            package = init.parent
            if "migrations" in package.relative_to(ROOT).parts:
                continue
            if any(m.name not in NOT_LISTED for m in package.glob("*.py")) or package.parent != ROOT:
                found.append(package)
    return found


@pytest.mark.parametrize("doc", DOCUMENTS, ids=_ids(DOCUMENTS))
def test_every_relative_link_points_to_a_file_that_exists(doc):
    assert broken_links(doc) == []


@pytest.mark.parametrize("doc", DOCUMENTS, ids=_ids(DOCUMENTS))
def test_every_path_written_as_code_exists(doc):
    missing = sorted(path for path in written_paths(doc.read_text()) if not (ROOT / path).exists())
    assert missing == []


@pytest.mark.parametrize("doc", DOCUMENTS, ids=_ids(DOCUMENTS))
def test_every_setting_named_is_one_the_settings_read(doc):
    unknown = sorted(set(SETTING.findall(doc.read_text())) - settings_variables())
    assert unknown == []


@pytest.mark.parametrize("package", packages(), ids=_ids(packages()))
def test_the_readme_layout_has_one_row_per_package(package):
    name = f"{package.relative_to(ROOT)}/"
    rows = [row for cell, row in layout_rows() if name in cell]
    assert len(rows) == 1, f"{name} is in {len(rows)} rows of the README's layout table"


@pytest.mark.parametrize("package", [ROOT / "tasks", ROOT / "workers"], ids=["tasks", "workers"])
def test_the_layout_row_of_a_top_level_package_names_its_modules(package):
    [row] = [row for cell, row in layout_rows() if f"{package.name}/" in cell]
    unnamed = [
        m.name
        for m in sorted(package.glob("*.py"))
        if m.name not in NOT_LISTED and f"`{package.name}/{m.name}`" not in row
    ]
    assert unnamed == []


def test_the_checks_see_what_they_check():
    """Guards against a check that passes because it finds nothing to check."""
    assert "the-demo-make-demo" in anchors((ROOT / "docs" / "benchmarks.md").read_text())
    assert "decomposition/bounds/network.py" in written_paths((ROOT / "docs" / "model.md").read_text())
    assert "benchmarks/spain_study.py" in written_paths((ROOT / "docs" / "benchmarks.md").read_text())
    assert {"SURGEPLAN_DATA_DIR", "SURGEPLAN_RAY_ADDRESS"} <= settings_variables()
    assert len(layout_rows()) >= len(packages())
