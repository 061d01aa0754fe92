"""The documentation: every relative link resolves, and the README's Python
snippets run.

README.md, CHANGELOG.md and docs/*.md link to one another, to BUILD.md and
to files of the repository. A moved file or a renamed heading breaks such a
link silently, so every relative link must name a file inside the
repository that exists and, with a `#anchor` into a markdown file, a heading
whose GitHub slug is that anchor.

The README's ```python snippets are its API tour, written to run as they
are on the `tiny` preset: they run in order, in one namespace, in an empty
folder. The default run leaves out the snippets that export (those that
call `export_model`: about 15 s more) and samples with the plain loops that
tests/conftest.py selects; the slow test runs every snippet as written,
XLA-compiled sampling and export included, in a fresh Python process without
the tests' environment settings, as a reader would.
"""

import os
import re
import subprocess
import sys
import textwrap
import unicodedata

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
DOCS = os.path.join(ROOT, "docs")

# The README's two commands, exactly: CI (.ci/run) and a fresh machine run them.
TWO_COMMANDS = (
    "pip install -r requirements.txt && python main.py",
    "pip install -r requirements.txt && python -m pytest -q tests",
)
README_MAX_LINES = 300

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# Inline code spans, which may wrap across lines; their text is never a link.
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
# `[text](target)` and `![alt](target)`, with an optional "title".
_INLINE_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
_HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def documentation_files():
    """README.md, CHANGELOG.md and every docs/*.md, as paths."""
    pages = sorted(
        os.path.join(DOCS, name) for name in os.listdir(DOCS) if name.endswith(".md")
    )
    return [README, os.path.join(ROOT, "CHANGELOG.md"), *pages]


def _prose(text):
    """The text outside fenced code blocks, with line breaks kept."""
    lines, fence = [], None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            lines.append("")
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            lines.append("")
        else:
            lines.append(line)
    return "\n".join(lines)


def github_slug(heading):
    """The anchor GitHub gives a heading: its rendered text in lower case,
    without punctuation other than `-` and `_`, spaces made `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    kept = "".join(
        c for c in text.strip().lower()
        if c in " -_" or unicodedata.category(c)[0] in "LMN"
    )
    return kept.replace(" ", "-")


def anchors(path):
    """Every anchor of a markdown file: its headings' slugs (GitHub's `-1`,
    `-2` ... for repeated ones) and explicit `<a id=...>` anchors."""
    with open(path, encoding="utf-8") as file:
        prose = _prose(file.read())
    found, seen = set(_HTML_ANCHOR.findall(prose)), {}
    for line in prose.splitlines():
        match = _HEADING.match(line)
        if match:
            slug = github_slug(match.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def relative_links(path):
    """The relative link targets of a markdown file (no URLs, no code)."""
    with open(path, encoding="utf-8") as file:
        prose = _CODE_SPAN.sub("", _prose(file.read()))
    targets = _INLINE_LINK.findall(prose) + _REFERENCE_LINK.findall(prose)
    return [target for target in targets if not _SCHEME.match(target)]


def broken_links(path, root=ROOT):
    """`(target, why)` for each relative link of `path` that does not resolve."""
    broken = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        resolved = (
            os.path.normpath(os.path.join(os.path.dirname(path), file_part))
            if file_part
            else path
        )
        if os.path.commonpath([resolved, root]) != root:
            broken.append((target, "points outside the repository"))
        elif not os.path.exists(resolved):
            broken.append((target, "no such file"))
        elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
            broken.append((target, f"no heading with the anchor #{anchor}"))
    return broken


def python_snippets(path=README):
    """`(line, code)` of each ```python block of a markdown file, in order."""
    with open(path, encoding="utf-8") as file:
        lines = file.read().splitlines()
    snippets, start = [], None
    for number, line in enumerate(lines, 1):
        if start is None and line.strip() == "```python":
            start = number
        elif start is not None and line.strip() == "```":
            snippets.append((start + 1, "\n".join(lines[start:number - 1]) + "\n"))
            start = None
    return snippets


def _exports(code):
    return "export_model" in code


# The link checker itself.


@pytest.mark.parametrize(
    "heading, slug",
    [
        ("Speed against `tfp.distributions.PixelCNN`", "speed-against-tfpdistributionspixelcnn"),
        ("Speed of the PixelRNN paper's models", "speed-of-the-pixelrnn-papers-models"),
        ("Exports before pixel_keras 0.2: `label`", "exports-before-pixel_keras-02-label"),
        ("[0.2.0] - 2026-11-30", "020---2026-11-30"),
        ("Held-out bits/dim in a fixed CPU budget", "held-out-bitsdim-in-a-fixed-cpu-budget"),
    ],
)
def test_github_slug(heading, slug):
    assert github_slug(heading) == slug


def test_broken_links_are_found(tmp_path):
    (tmp_path / "other.md").write_text("# Title\n\n## A section\n\n## A section\n")
    page = tmp_path / "page.md"
    page.write_text(
        textwrap.dedent(
            """\
            # Page

            [fine](other.md#a-section) [repeated](other.md#a-section-1)
            [here](#page) [web](https://example.com/x.md#nowhere)
            [gone](missing.md) [no anchor](other.md#nowhere) [self](#nowhere)
            [out](../../outside.md) `[code](not-a-link.md)`

            ```sh
            [block](also-not-a-link.md)
            ```

            [ref]: missing-reference.md
            """
        )
    )
    assert sorted(broken_links(str(page), root=str(tmp_path))) == sorted(
        [
            ("missing.md", "no such file"),
            ("other.md#nowhere", "no heading with the anchor #nowhere"),
            ("#nowhere", "no heading with the anchor #nowhere"),
            ("../../outside.md", "points outside the repository"),
            ("missing-reference.md", "no such file"),
        ]
    )


# The documentation.


@pytest.mark.parametrize(
    "path", documentation_files(), ids=lambda path: os.path.relpath(path, ROOT)
)
def test_relative_links_resolve(path):
    assert broken_links(path) == []


def test_readme_is_a_front_door():
    with open(README, encoding="utf-8") as file:
        text = file.read()
    assert len(text.splitlines()) <= README_MAX_LINES
    for command in TWO_COMMANDS:
        assert f"```sh\n{command}\n```" in text, command


def test_docs_index_lists_every_page():
    with open(os.path.join(DOCS, "index.md"), encoding="utf-8") as file:
        index = file.read()
    pages = [name for name in os.listdir(DOCS) if name.endswith(".md")]
    assert [name for name in pages if name != "index.md" and f"]({name})" not in index] == []


def test_readme_snippets_run(tmp_path, monkeypatch):
    snippets = [(line, code) for line, code in python_snippets() if not _exports(code)]
    assert len(snippets) >= 3, "the README's API tour has lost its snippets"
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    for line, code in snippets:
        exec(compile(code, f"README.md, snippet at line {line}", "exec"), namespace)

    images, known = namespace["images"], namespace["known"]
    samples, completed = namespace["samples"], np.asarray(namespace["completed"])
    assert samples.shape == (16, *images.shape[1:]) and samples.dtype == np.uint8
    np.testing.assert_array_equal(completed[known], images[known])
    assert np.all(np.isfinite(namespace["bits"])) and np.isfinite(namespace["loss"])


@pytest.mark.slow  # a fit, two XLA compiles and an export in a fresh process: about 90 s
def test_readme_snippets_run_as_written(tmp_path):
    snippets = python_snippets()
    assert any(_exports(code) for _, code in snippets)
    script = tmp_path / "readme_tour.py"
    script.write_text(
        "\n".join(code for _, code in snippets)
        + textwrap.dedent(
            """
            # Checks of the tour's results.
            assert samples.shape == (16, 8, 8, 1), samples.shape
            assert (np.asarray(completed)[known] == images[known]).all()
            assert drawn["images"].shape == (2, 8, 8, 1), drawn["images"].shape
            assert scored["bits_per_dim"].shape == (8,)
            assert os.path.isdir(os.path.join("models", "pixel_cnn_pp", "1"))
            """
        ).replace("# Checks", "import os\n# Checks", 1)
    )
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PIXEL_KERAS_")
    }
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-5000:]
