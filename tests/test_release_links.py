"""Colab, Binder and forks: the notebooks' set-up cell never fails quietly, the launch buttons open the release the
book was built from, and the one setting (``_config.yml``: ``repository.url``, ``flatgap_install``; the version in
``flatgap/__init__.py``) drives everything derived from it, for this repository and for a fork.

Offline: the failure paths use sources that cannot be reached (127.0.0.1, port 9), never the internet.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbtools
import pytest
import repository
import yaml

import flatgap

ROOT = Path(__file__).resolve().parent.parent
UNREACHABLE = "http://127.0.0.1:9"
HIDE_FLATGAP = "import sys\nsys.modules['flatgap'] = None  # as on Colab: no flatgap in this kernel yet\n"


def run_cell(source: str, tmp_path: Path, prelude: str = "", **env: str) -> subprocess.CompletedProcess:
    """Run a set-up cell's source in a fresh interpreter of this environment, pip configured only by ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    clean.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_RETRIES="0", PIP_TIMEOUT="3",
                 GIT_TERMINAL_PROMPT="0", **env)
    return subprocess.run([sys.executable, "-c", prelude + source], cwd=tmp_path, env=clean,
                          capture_output=True, text=True, timeout=120)


def error_of(done: subprocess.CompletedProcess) -> str:
    """The last line of the traceback's exception and what follows it (the message may span lines)."""
    assert done.returncode != 0, f"the cell did not fail:\n{done.stdout}\n{done.stderr}"
    return done.stderr[done.stderr.rindex("RuntimeError:"):]


def test_the_setup_cell_does_nothing_but_check_when_the_package_is_installed(tmp_path):
    done = run_cell(nbtools.setup_cell_source(), tmp_path)
    assert done.returncode == 0 and done.stdout == "", done.stderr[-2000:]


def test_the_setup_cell_raises_one_clear_error_when_the_git_release_cannot_be_installed(tmp_path):
    setting = repository.Setting(url=f"{UNREACHABLE}/nobody/nothing", install="git", version=flatgap.__version__)
    done = run_cell(nbtools.setup_cell_source(setting), tmp_path, HIDE_FLATGAP, PIP_NO_INDEX="1")
    message = error_of(done)
    assert message.startswith("RuntimeError: The set-up cell could not install the course's helper package")
    assert f"flatgap @ git+{UNREACHABLE}/nobody/nothing@v{flatgap.__version__}" in message
    assert "pip said:" in message and "What to do:" in message
    assert done.stderr.count("Traceback") == 1, "one error, not a chain of them"
    assert "ImportError" not in done.stderr and "ModuleNotFoundError" not in done.stderr


def test_the_setup_cell_raises_one_clear_error_when_the_pypi_release_cannot_be_installed(tmp_path):
    setting = repository.Setting(url="https://github.com/nobody/nothing", install="pypi", version=flatgap.__version__)
    done = run_cell(nbtools.setup_cell_source(setting), tmp_path, HIDE_FLATGAP, PIP_INDEX_URL=f"{UNREACHABLE}/simple")
    message = error_of(done)
    assert f"pip install 'flatgap=={flatgap.__version__}' failed" in message and "What to do:" in message


def fake_package(folder: Path, init: str) -> Path:
    (folder / "flatgap").mkdir(parents=True)
    (folder / "flatgap" / "__init__.py").write_text(init)
    return folder


def test_the_setup_cell_refuses_another_version_of_the_package(tmp_path):
    fake_package(tmp_path, '__version__ = "0.0.1"\n')  # found first: the notebook's own folder is the cwd
    prelude = f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\n"
    message = error_of(run_cell(nbtools.setup_cell_source(), tmp_path, prelude))
    assert f"needs flatgap {flatgap.__version__}, but this kernel has flatgap 0.0.1" in message
    assert "%pip install" in message


def test_the_setup_cell_says_so_when_the_package_cannot_be_imported(tmp_path):
    fake_package(tmp_path, 'raise ImportError("a broken installation")\n')
    prelude = f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\n"
    message = error_of(run_cell(nbtools.setup_cell_source(), tmp_path, prelude))
    assert "installed but cannot be imported (ImportError: a broken installation)" in message


def test_the_setup_cell_installs_the_exact_release():
    s = repository.setting()
    assert s.requirement in nbtools.setup_cell_source()
    assert repository.Setting(s.url, "git", "1.2.3").requirement == f"flatgap @ git+{s.url}@v1.2.3"
    assert repository.Setting(s.url, "pypi", "1.2.3").requirement == "flatgap==1.2.3"


# --- the launch links ----------------------------------------------------------------------------------------------

def test_the_launch_buttons_are_configured_to_open_the_release_tag():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["repository"]["branch"] == f"v{flatgap.__version__}", (
        "_config.yml's repository.branch must be the release tag v<version> (run `python tools/repository.py sync`)"
    )


PAGE = {
    "cells": [{"cell_type": "markdown", "id": "title", "metadata": {}, "source": ["# Scratch page"]}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                 "language_info": {"name": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


@pytest.mark.notebooks
def test_a_built_page_launches_colab_and_binder_at_the_release_tag(tmp_path):
    """Jupyter Book itself renders the buttons: a scratch book with the course's repository and launch settings."""
    import json
    import re

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    scratch = {"title": "Scratch", "only_build_toc_files": True, "execute": {"execute_notebooks": "off"},
               **{key: config[key] for key in ("repository", "flatgap_install", "launch_buttons", "html")}}
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(scratch))
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n- file: exercises/page\n")
    (tmp_path / "intro.md").write_text("# Scratch\n")
    (tmp_path / "exercises").mkdir()
    (tmp_path / "exercises" / "page.ipynb").write_text(json.dumps(PAGE))
    import build_book

    done = subprocess.run([build_book.jupyter_book(), "build", str(tmp_path), "-W", "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    html = (tmp_path / "_build" / "html" / "exercises" / "page.html").read_text(encoding="utf-8")
    s = repository.setting()
    links = set(re.findall(r'href="(https://(?:colab\.research\.google\.com|mybinder\.org)[^"]+)"', html))
    colab = f"https://colab.research.google.com/github/{s.slug}/blob/{s.tag}/exercises/page.ipynb"
    binder = f"https://mybinder.org/v2/gh/{s.slug}/{s.tag}?urlpath=lab/tree/exercises/page.ipynb"
    assert links == {colab, binder}, f"launch links {sorted(links)}, expected {[colab, binder]}"


# --- the one setting, and a fork in one step ----------------------------------------------------------------------

def test_everything_derived_from_the_setting_agrees_with_it():
    stale = repository.check()
    assert not stale, f"these files differ from _config.yml's setting (run `python tools/repository.py sync`): {stale}"


def test_the_package_urls_follow_the_setting():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    s = repository.setting()
    assert project["urls"] == s.project_urls()
    assert project["urls"]["Source"] == s.url and s.tag in project["urls"]["Colab"]
    assert (ROOT / s.project_urls()["Colab"].split(f"/blob/{s.tag}/")[1]).is_file()


FORK_FILES = ("_config.yml", "pyproject.toml", "PACKAGE.md", "flatgap/__init__.py", ".gitignore")


def scratch_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    for name in FORK_FILES:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, copy / name)
    for path in nbtools.all_notebooks()[:3] + [ROOT / "solutions" / "ex1_numpy_layers.ipynb"]:
        (copy / path.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, copy / path.relative_to(ROOT))
    return copy


def test_a_fork_in_one_step_points_everything_at_the_fork(tmp_path):
    copy = scratch_copy(tmp_path)
    upstream = repository.setting(copy)
    target = next(slug for slug in ("alice/my-flatgap-book", "bob/another-book") if slug != upstream.slug)
    changed = repository.fork(copy, target)
    s = repository.setting(copy)
    assert s.url == f"https://github.com/{target}" and s.install == "git"
    assert s.requirement == f"flatgap @ git+https://github.com/{target}@v{flatgap.__version__}"
    assert repository.check(copy) == []
    assert not repository.upstream_mentions(copy, upstream.slug), "the fork's files still name upstream"
    assert set(changed) >= {"_config.yml", "pyproject.toml", "PACKAGE.md"} and any(n.endswith(".ipynb") for n in changed)
    notebook = copy / "solutions" / "ex1_numpy_layers.ipynb"
    assert s.requirement in notebook.read_text() and upstream.slug not in notebook.read_text()


def test_a_fork_never_installs_upstreams_package_from_pypi(tmp_path):
    copy = scratch_copy(tmp_path)
    text = (copy / "_config.yml").read_text().replace("flatgap_install: git", "flatgap_install: pypi")
    (copy / "_config.yml").write_text(text)
    repository.fork(copy, "alice/my-flatgap-book")
    assert repository.setting(copy).install == "git", "flatgap on PyPI is upstream's: a fork installs its own tag"


@pytest.mark.parametrize("bad", ["alice", "alice/", "https://github.com/alice/book", "al ice/book", "/book"])
def test_a_fork_with_a_malformed_name_is_refused_and_changes_nothing(tmp_path, bad):
    copy = scratch_copy(tmp_path)
    before = {name: (copy / name).read_text() for name in FORK_FILES}
    with pytest.raises(repository.SettingError, match="OWNER/NAME"):
        repository.fork(copy, bad)
    assert {name: (copy / name).read_text() for name in FORK_FILES} == before


def test_a_malformed_setting_gets_a_clear_message(tmp_path):
    copy = scratch_copy(tmp_path)
    text = (copy / "_config.yml").read_text()
    (copy / "_config.yml").write_text(text.replace("flatgap_install: git", "flatgap_install: conda"))
    with pytest.raises(repository.SettingError, match="flatgap_install must be one of"):
        repository.setting(copy)
    (copy / "_config.yml").write_text(text.replace("https://github.com/", "https://example.org/"))
    with pytest.raises(repository.SettingError, match="repository.url must be https://github.com/OWNER/NAME"):
        repository.setting(copy)
