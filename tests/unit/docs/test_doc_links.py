"""Every relative link in README.md and docs/ resolves to a file or folder of this repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
EXTERNAL = ("http://", "https://", "mailto:", "#")


def _links(doc: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", doc.read_text(encoding="utf-8"), flags=re.S)  # code blocks are not links
    return [m.group(1) for pattern in (LINK, IMAGE) for m in pattern.finditer(text)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve_inside_the_repository(doc: Path) -> None:
    broken = []
    for target in _links(doc):
        if target.startswith(EXTERNAL):
            continue
        path = (doc.parent / target.split("#", 1)[0]).resolve()
        if not path.is_relative_to(REPO):
            broken.append(f"{target}: outside the repository")
        elif not path.exists():
            broken.append(f"{target}: no such file")
    assert broken == [], f"{doc.relative_to(REPO)}: {broken}"


def test_the_check_finds_links() -> None:
    assert sum(len(_links(d)) for d in DOCS) > 0 or not DOCS


PATH_REF = re.compile(
    r"`((?:\.\./|\./)?[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*\.(?:md|py|yaml|yml|json|sql|toml|sh|txt))`")
SKIP_DIRS = {".git", ".venv", ".cache", "node_modules", "__pycache__"}
GENERATED = {"manifest.json", "results.json", "fleet.json"}  # written at run time, named in the docs


def _repo_files() -> list[str]:
    return [str(p.relative_to(REPO)) for p in REPO.rglob("*")
            if p.is_file() and not SKIP_DIRS.intersection(p.relative_to(REPO).parts)]


FILES = _repo_files()


def _resolves(doc: Path, ref: str) -> bool:
    if ref.startswith("../shared/"):
        shared = REPO.parent / "shared"
        return not shared.is_dir() or (REPO.parent / ref[3:]).exists()
    if (doc.parent / ref).exists() or (REPO / ref).exists():
        return True
    return any(f == ref or f.endswith("/" + ref.lstrip("./")) for f in FILES)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_file_paths_named_in_backticks_exist(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    missing = sorted({ref for ref in PATH_REF.findall(text)
                      if Path(ref).name not in GENERATED and "NNNN" not in ref and not _resolves(doc, ref)})
    assert missing == [], f"{doc.relative_to(REPO)} names files that are not in the tree: {missing}"
