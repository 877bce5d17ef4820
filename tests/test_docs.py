"""Documentation cannot rot: examples and marked doc blocks run, output compared exactly.

* Every ``examples/NAME.py`` with an ``examples/NAME.out`` beside it runs in a
  fresh interpreter; its standard output must equal the ``.out`` file.
* Every fenced ``python`` block in ``README.md`` and ``docs/*.md`` whose first
  line is ``# run`` is executed; when a fenced ``text`` block follows it
  directly (only blank lines between), the code must print exactly that text.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DOCS = ROOT / "docs"
RUN_MARKER = "# run"


@attrs.frozen
class Block:
    """One fenced code block of a markdown file."""

    path: Path
    #: 1-based line of the opening fence.
    line: int
    lang: str
    code: str
    #: The fenced ``text`` block right after it, if any: its expected output.
    output: str | None = None

    @property
    def runs(self) -> bool:
        return self.lang == "python" and self.code.splitlines()[:1] == [RUN_MARKER]

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def fenced_blocks(path: Path) -> list[Block]:
    """The fenced blocks of a markdown file, each with the text block that follows it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    raw: list[tuple[int, int, str, str]] = []  # (open line, close line, lang, code)
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            fence = line[: len(line) - len(line.lstrip("`"))]
            lang = line[len(fence) :].strip()
            end = i + 1
            while end < len(lines) and lines[end].strip() != fence:
                end += 1
            if end == len(lines):
                raise ValueError(f"{path}:{i + 1}: unclosed code fence")
            raw.append((i, end, lang, "\n".join(lines[i + 1 : end]) + "\n"))
            i = end + 1
        else:
            i += 1
    blocks = []
    for n, (start, end, lang, code) in enumerate(raw):
        output = None
        if n + 1 < len(raw):
            nxt_start, _, nxt_lang, nxt_code = raw[n + 1]
            between = lines[end + 1 : nxt_start]
            if nxt_lang == "text" and all(not s.strip() for s in between):
                output = nxt_code
        blocks.append(Block(path, start + 1, lang, code, output))
    return blocks


def _examples() -> list[Path]:
    return sorted(p for p in EXAMPLES.glob("*.py") if p.with_suffix(".out").exists())


def _runnable_blocks() -> list[Block]:
    docs = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    return [b for doc in docs for b in fenced_blocks(doc) if b.runs]


def _strip_docstring(source: str) -> str:
    """The example's code without its module docstring and the blank line after it."""
    if source.startswith('"""'):
        end = source.index('"""', 3) + 3
        return source[end:].lstrip("\n")
    return source


class TestExamples:
    """Every example with a transcript prints exactly its transcript."""

    def test_there_are_examples(self) -> None:
        assert _examples(), "no examples/*.py with a matching .out file"

    @pytest.mark.parametrize("example", _examples(), ids=lambda p: p.name)
    def test_output_matches_transcript(self, example: Path) -> None:
        done = subprocess.run(
            [sys.executable, str(example)],
            capture_output=True,
            text=True,
            encoding="utf-8",
            cwd=ROOT,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        assert done.stdout == example.with_suffix(".out").read_text(encoding="utf-8")


class TestDocBlocks:
    """Every doc block marked ``# run`` executes and prints the text block after it."""

    def test_there_are_runnable_blocks(self) -> None:
        assert _runnable_blocks(), f"no ```python block starting with {RUN_MARKER!r} in the docs"

    @pytest.mark.parametrize("block", _runnable_blocks(), ids=str)
    def test_block_runs(self, block: Block) -> None:
        out = io.StringIO()
        code = compile(block.code, str(block), "exec")
        with contextlib.redirect_stdout(out):
            exec(code, {"__name__": "__docs__"})
        if block.output is not None:
            assert out.getvalue() == block.output


class TestDocsShowExamples:
    """The front page shows the walk_chain example verbatim, with its transcript."""

    def test_index_code_is_the_example(self) -> None:
        example = _strip_docstring((EXAMPLES / "walk_chain.py").read_text(encoding="utf-8"))
        codes = [b.code for b in fenced_blocks(DOCS / "index.md") if b.runs]
        assert f"{RUN_MARKER}\n{example}" in codes

    def test_index_output_is_the_transcript(self) -> None:
        transcript = (EXAMPLES / "walk_chain.out").read_text(encoding="utf-8")
        outputs = [b.output for b in fenced_blocks(DOCS / "index.md") if b.runs]
        assert transcript in outputs


class TestFencedBlocks:
    """The markdown reader finds blocks, their language and their output."""

    def test_reads_blocks_and_output(self, tmp_path: Path) -> None:
        doc = tmp_path / "doc.md"
        doc.write_text(
            "Intro\n\n```python\n# run\nprint(1)\n```\n\n```text\n1\n```\n\n"
            "```python\nx = 1\n```\nprose\n```text\nnot output\n```\n",
            encoding="utf-8",
        )
        blocks = fenced_blocks(doc)
        assert [(b.line, b.lang, b.runs) for b in blocks] == [
            (3, "python", True),
            (8, "text", False),
            (12, "python", False),
            (16, "text", False),
        ]
        assert blocks[0].output == "1\n"
        assert blocks[2].output is None

    def test_unclosed_fence_is_an_error(self, tmp_path: Path) -> None:
        doc = tmp_path / "doc.md"
        doc.write_text("```python\nprint(1)\n", encoding="utf-8")
        with pytest.raises(ValueError, match="unclosed code fence"):
            fenced_blocks(doc)


SET_UP = ("pip install '.[plot]' && gridgov demo", "pip install -e '.[test]' && python -m pytest")


class TestSetUp:
    """README, docs and CI agree on the two set-up commands."""

    @pytest.mark.parametrize("doc", ["README.md", "docs/index.md"])
    def test_doc_gives_the_two_commands(self, doc: str) -> None:
        shell = [b.code.strip() for b in fenced_blocks(ROOT / doc) if b.lang == "sh"]
        assert list(SET_UP) == shell[:2]

    def test_ci_runs_the_readme_test_command(self) -> None:
        script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
        # CI spells the interpreter python3; the command is otherwise the same.
        normalised = script.replace("python3 -m pip", "pip").replace("python3", "python")
        assert SET_UP[1] in normalised.splitlines()


def test_public_api_is_documented() -> None:
    """gridgov.__all__ is sorted and is exactly the names listed in docs/api.md."""
    import re

    import gridgov

    page = (DOCS / "api.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `(\w+)` \|", page, flags=re.M)
    assert list(gridgov.__all__) == sorted(gridgov.__all__)
    assert listed == list(gridgov.__all__)
    for name in gridgov.__all__:
        assert hasattr(gridgov, name), name


def test_ci_runs_the_long_tests_the_loop_leaves_out() -> None:
    """docs/testing.md's CI command is in .ci/run, and addopts leaves ``slow`` out."""
    import tomllib

    page = (DOCS / "testing.md").read_text(encoding="utf-8")
    command = 'HYPOTHESIS_PROFILE=ci python -m pytest -m "slow or hypothesis"'
    assert command in page
    assert command in (DOCS.parent / ".ci" / "run").read_text(encoding="utf-8")
    project = tomllib.loads((DOCS.parent / "pyproject.toml").read_text(encoding="utf-8"))
    addopts = project["tool"]["pytest"]["ini_options"]["addopts"]
    assert addopts[addopts.index("-m") + 1] == "not slow"
