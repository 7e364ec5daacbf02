"""The README and docs/: every page is reachable from the README, and every link between them
lands on a file and a heading that exist."""

import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(REPO, "docs")
PAGES = ["README.md"] + sorted(f"docs/{name}" for name in os.listdir(DOCS) if name.endswith(".md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _text(page: str) -> str:
    with open(os.path.join(REPO, page), encoding="utf-8") as source:
        return source.read()


def _anchors(page: str) -> set:
    """GitHub's anchors of a page's headings (outside code blocks), repeats numbered."""
    found, seen, in_code = set(), {}, False
    for line in _text(page).splitlines():
        if line.startswith("```"):
            in_code = not in_code
        heading = None if in_code else re.match(r"^#{1,6} (.*)$", line)
        if heading:
            anchor = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def test_every_docs_page_is_linked_from_the_readme():
    linked = {os.path.normpath(target.split("#")[0]) for target in LINK.findall(_text("README.md"))}
    assert [page for page in PAGES[1:] if page not in linked] == []


@pytest.mark.parametrize("page", PAGES)
def test_every_link_lands_on_a_file_and_heading_that_exist(page):
    broken = []
    for target in LINK.findall(_text(page)):
        if re.match(r"^[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        if not os.path.exists(os.path.join(REPO, resolved)):
            broken.append(target)
        elif anchor and resolved.endswith(".md") and anchor not in _anchors(resolved):
            broken.append(target)
    assert broken == []
