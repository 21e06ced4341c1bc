"""The README and the documentation site cannot rot: every shell snippet runs, in page order,
against a live emulator, and the pages name only files of the repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.docs import runner
from tests.docs.snippets import ROOT, SnippetError, pages, read

PAGES = pages()
# Snippets that cannot run here (Docker, the suite itself, a benchmark): kept few.
MAX_SKIPPED = 8
README_MAX_LINES = 400


def _id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _runnable(page: Path) -> bool:
    try:
        return any(snippet.kind == "run" for snippet in read(page))
    except SnippetError:
        return True  # let the test say what is wrong with it


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_every_page_reads_with_known_fences_and_markers(page: Path) -> None:
    read(page)


def test_the_reader_refuses_an_unknown_marker_and_a_shell_fence_it_would_not_run(
    tmp_path: Path,
) -> None:
    page = tmp_path / "page.md"
    for text in ("<!-- snippet: sometimes -->\n```sh\ntrue\n```\n", "```bash\ntrue\n```\n"):
        page.write_text(text)
        with pytest.raises(SnippetError):
            read(page, root=tmp_path)
    page.write_text("<!-- snippet: skip (no Docker here) -->\n\n```sh\ndocker ps\n```\n")
    (snippet,) = read(page, root=tmp_path)
    assert (snippet.kind, snippet.reason, snippet.where) == ("skip", "no Docker here", "page.md:3")


@pytest.mark.skipif(
    os.environ.get("EMULATOR_TEST_MODE") == "server",
    reason="the snippets run against real servers of their own: the in-process pass runs them",
)
@pytest.mark.skipif(
    bool(os.environ.get("EMULATOR_TEST_DATABASE_URL")),
    reason="the snippets run on the SQLite state the docs describe: the SQLite pass runs them",
)
@pytest.mark.skipif(
    not (shutil.which("bash") and shutil.which("curl")),
    reason="the snippets need bash and curl",
)
@pytest.mark.parametrize("page", [p for p in PAGES if _runnable(p)], ids=_id)
def test_the_shell_snippets_of_each_page_run_in_order_against_a_live_emulator(
    page: Path, tmp_path: Path
) -> None:
    snippets = read(page)
    if any(s.kind == "server" and s.body.startswith("make ") for s in snippets):
        _require_installed()
    run = runner.run_page(snippets, tmp_path)
    assert run.returncode == 0, run.output
    assert run.calls, f"{_id(page)}: no snippet reached the emulator"
    problems = [
        f"{call.snippet.where}: curl {' '.join(call.args)}: {problem}\n  {call.body[:400]}"
        for call in run.calls
        if (problem := call.problem()) is not None
    ]
    assert not problems, "\n".join(problems)
    # A snippet that shows an error on purpose shows it: each code it expects did come.
    for snippet in {call.snippet for call in run.calls if call.snippet.expect}:
        seen = set().union(*(call.codes() for call in run.calls if call.snippet == snippet))
        assert snippet.expect <= seen, f"{snippet.where}: expected {sorted(snippet.expect)}"


def _require_installed() -> None:
    """``make run`` would first reinstall a virtual environment older than pyproject.toml:
    not in the middle of a test run."""
    if shutil.which("make") is None:
        pytest.skip("the page starts its emulator with make, which is not installed")
    up_to_date = subprocess.run(["make", "-q", "-C", str(ROOT), "install"], capture_output=True)
    if up_to_date.returncode != 0:
        pytest.skip("the virtual environment is older than pyproject.toml: run make install")


def test_a_call_that_fails_is_reported_unless_its_snippet_expects_the_code() -> None:
    plain = next(s for s in read(ROOT / "README.md") if s.kind == "run" and not s.expect)
    expecting = next(s for s in read(ROOT / "README.md") if 11714 in s.expect)
    failed = '{"code":11714,"msg":"Generate deviceKey failed","data":null}'
    assert runner.Call(plain, [], 200, failed).problem() == "vendor code 11714"
    assert runner.Call(expecting, [], 200, failed).problem() is None
    assert runner.Call(plain, [], 409, "{}").problem() == "HTTP 409"
    batch = '{"code":200,"data":{"successList":[],"failureList":[{"msg":"x"}]}}'
    assert runner.Call(plain, [], 200, batch).problem() == "a device in failureList"
    assert runner.Call(plain, [], 200, '{"code":200,"data":{}}').problem() is None


def test_few_snippets_are_skipped_and_each_says_why() -> None:
    skipped = [s for page in PAGES for s in read(page) if s.kind == "skip"]
    assert all(s.reason for s in skipped)
    assert len(skipped) <= MAX_SKIPPED, [s.where for s in skipped]


def test_the_readme_is_a_front_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= README_MAX_LINES
    kinds = [s.kind for s in read(ROOT / "README.md")]
    # The two commands (start it; run the tests), then a tour that runs.
    assert kinds[:2] == ["server", "skip"]
    assert kinds.count("run") >= 3


_LINK = re.compile(r"\]\((?!https?:|#|mailto:)([^)#\s]+)")
_MARKDOWN_NAME = re.compile(r"[\w./-]+\.md\b")


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_a_page_names_and_links_only_files_of_the_repository(page: Path) -> None:
    text = page.read_text()
    missing = [
        target
        for target in _LINK.findall(text)
        if not (page.parent / target).exists() and not (ROOT / target).exists()
    ]
    missing += [
        name
        for name in _MARKDOWN_NAME.findall(text)
        if not any((base / name).exists() for base in (ROOT, ROOT / "docs", page.parent))
    ]
    assert not missing, f"{_id(page)} names files the repository does not hold: {missing}"
