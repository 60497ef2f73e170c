"""The book's structure: the table of contents, the notebooks' form, the pins, Binder, the package's metadata,
and nothing downloaded at run time."""

from __future__ import annotations

import ast
import json
import os
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import nbtools
import pytest
import repository
import toc
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import flatgap

ROOT = Path(__file__).resolve().parent.parent


def all_notebooks() -> list[Path]:
    return nbtools.all_notebooks()


def test_every_toc_entry_exists():
    missing = [name for name in toc.docnames() if not any((ROOT / f"{name}{ext}").exists() for ext in (".ipynb", ".md"))]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_every_notebook_is_in_the_toc():
    listed = set(toc.docnames())
    unlisted = [str(p.relative_to(ROOT)) for p in all_notebooks() if str(p.relative_to(ROOT).with_suffix("")) not in listed]
    assert not unlisted, f"notebooks missing from _toc.yml (only_build_toc_files would drop them): {unlisted}"


@pytest.mark.parametrize("path", all_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_form(path):
    notebook = json.loads(path.read_text())
    name = path.relative_to(ROOT)
    assert notebook["metadata"]["kernelspec"]["name"] == "python3", f"{name}: kernelspec must be python3"
    dirty = [i for i, c in enumerate(notebook["cells"]) if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{name}: cells {dirty} carry outputs or execution counts; commit notebooks without outputs (nbstripout)"
    first_code = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    expected = nbtools.setup_cell_source()
    assert "".join(first_code["source"]) == expected, (
        f"{name}: the first code cell must be the Colab/Binder set-up cell for the repository in _config.yml and the "
        f"package's version {flatgap.__version__} (run `python tools/nbtools.py setup-cells {name}`)"
    )
    assert nbtools.SETUP_TAG in first_code["metadata"].get("tags", []), (
        f"{name}: the set-up cell must carry the tag {nbtools.SETUP_TAG!r}, so that the HTML book does not show it "
        f"(run `python tools/nbtools.py setup-cells {name}`)"
    )
    first = notebook["cells"][0]
    assert first["cell_type"] == "markdown" and "".join(first["source"]).startswith("# "), f"{name}: must open with a '# Title' markdown cell"


@pytest.mark.parametrize("path", sorted((ROOT / "chapters").rglob("*.ipynb")), ids=lambda p: str(p.relative_to(ROOT / "chapters")))
def test_chapter_opens_with_goals_and_closes_with_summary_and_self_check(path):
    markdown = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown")
    assert re.search(r"^#+ .*Summary", markdown, re.M | re.I), f"{path.name}: no Summary section"
    assert re.search(r"^#+ .*Self-check", markdown, re.M | re.I), f"{path.name}: no Self-check questions section"
    opening = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown")
    goals = re.search(r"^After this chapter you will be able to:\n\n((?:(?:- |  ).*(?:\n|$))+)", "".join(opening["source"]), re.M)
    assert goals and len(re.findall(r"^- ", goals.group(1), re.M)) >= 2, (
        f"{path.name}: the first cell must say 'After this chapter you will be able to:' followed by a list of at least two goals"
    )


TYPED_NUMBER = re.compile(r"\b[Cc]hapters?\s+\d+\b|\b[Pp]arts?\s+(?:I{1,3}|IV|VI?|V?I{1,3})\b")
"""A chapter or part named by a number typed in the text ("chapter 14", "Part III")."""


def book_texts() -> list[tuple[str, str]]:
    """(where, text) of every cell of every notebook and of every Markdown page of the book."""
    texts = [(f"{p.relative_to(ROOT)} cell {i}", "".join(c["source"]))
             for p in all_notebooks() for i, c in enumerate(json.loads(p.read_text())["cells"])]
    texts += [(name, (ROOT / f"{name}.md").read_text()) for name in toc.docnames() if (ROOT / f"{name}.md").exists()]
    return texts


def test_chapters_and_parts_are_named_by_link_never_by_a_typed_number():
    typed = [f"{where}: {match.group(0)!r}" for where, text in book_texts() for match in TYPED_NUMBER.finditer(text)]
    assert not typed, (
        "link to the page instead of typing its number, e.g. [](../experiments/where_flatten_wins.ipynb), which renders the number "
        "and title from _toc.yml:\n" + "\n".join(typed)
    )


def test_the_typed_number_rule_can_fail():
    assert TYPED_NUMBER.search("as chapter 14 shows") and TYPED_NUMBER.search("Part III measures it")
    assert TYPED_NUMBER.search("(chapters 9 and 13)") and not TYPED_NUMBER.search("see [](../experiments/where_flatten_wins.ipynb)")
    assert not TYPED_NUMBER.search("claim 6, in particular") and not TYPED_NUMBER.search("a partial result")


DOWNLOADS = re.compile(r"keras\.datasets|get_file\(|urlopen|urlretrieve|requests\.get|hub\.load|from_pretrained|tensorflow_datasets")


# The one download the package may make, on request only: Fashion-MNIST through keras.datasets, for Colab's set-up
# cell (load_fashion_mnist(download=True); tests/test_data_fashion_mnist.py proves the default never calls it).
ALLOWED_DOWNLOAD = ("flatgap/data/fashion_mnist.py", "_fetch_with_keras")


def without_function(text: str, name: str) -> str:
    """``text`` with the source of the top-level function ``name`` blanked out; ValueError if there is none."""
    function = next((node for node in ast.parse(text).body if isinstance(node, ast.FunctionDef) and node.name == name), None)
    if function is None:
        raise ValueError(f"no top-level function {name!r}")
    lines = text.splitlines()
    del lines[function.lineno - 1 - len(function.decorator_list) : function.end_lineno]
    return "\n".join(lines)


def test_nothing_is_downloaded_at_run_time():
    sources = [(p, "".join(c["source"])) for p in all_notebooks() for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "code"]
    for p in (ROOT / "flatgap").rglob("*.py"):
        text = p.read_text()
        if str(p.relative_to(ROOT)) == ALLOWED_DOWNLOAD[0]:
            assert DOWNLOADS.search(text), f"{ALLOWED_DOWNLOAD[0]} downloads nothing any more: drop ALLOWED_DOWNLOAD"
            text = without_function(text, ALLOWED_DOWNLOAD[1])
        sources.append((p, text))
    offenders = sorted({str(p.relative_to(ROOT)) for p, text in sources if DOWNLOADS.search(text)})
    assert not offenders, f"these files fetch data or models from the network at run time: {offenders}"


def test_the_allowed_download_excuses_its_own_function_only():
    text = "import keras\n\ndef _fetch_with_keras():\n    keras.datasets.fashion_mnist.load_data()\n\ndef other():\n    keras.datasets.mnist.load_data()\n"
    assert DOWNLOADS.search(without_function(text, "_fetch_with_keras"))  # the other function is still flagged
    assert not DOWNLOADS.search(without_function(text.split("def other")[0], "_fetch_with_keras"))
    with pytest.raises(ValueError, match="no top-level function"):
        without_function(text, "fetch")


SETUP_INSTALL = re.compile(r"def _set_up\(requirement='(?P<requirement>[^']+)', version='(?P<version>[^']+)'\)")


@pytest.mark.parametrize("path", all_notebooks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_setup_cell_installs_the_version_of_the_package(path):
    """On Colab the set-up cell installs the release the book was built with: the package's own version."""
    first_code = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    match = SETUP_INSTALL.search("".join(first_code["source"]))
    assert match, f"{path.relative_to(ROOT)}: the set-up cell installs no release (run `python tools/repository.py sync`)"
    assert match["version"] == flatgap.__version__, (
        f"{path.relative_to(ROOT)}: the set-up cell installs {match['version']}, the package is {flatgap.__version__}"
    )
    setting = repository.setting()
    assert match["requirement"] == setting.requirement
    assert match["requirement"] in (f"flatgap=={flatgap.__version__}", f"flatgap @ git+{setting.url}@v{flatgap.__version__}")


def test_the_version_is_set_in_one_place():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "flatgap.__version__"}
    assert nbtools.package_version() == flatgap.__version__


KERAS_PRIVATE = re.compile(r"\bkeras\.src\b")


def test_nothing_imports_from_keras_private_src():
    """``keras.src`` is Keras's private tree: it moves between releases. Use the public API (``keras.layers.Flatten``)."""
    sources = [(f"{p.relative_to(ROOT)}", "".join(c["source"])) for p in all_notebooks()
               for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "code"]
    sources += [(f"{p.relative_to(ROOT)}", p.read_text()) for folder in ("flatgap", "tools") for p in (ROOT / folder).rglob("*.py")]
    offenders = sorted({where for where, text in sources if KERAS_PRIVATE.search(text)})
    assert not offenders, f"these files use Keras's private keras.src: {offenders}"


# --- the pins: two sets, one source -----------------------------------------------------------------------

LEARNER = ROOT / "requirements" / "learner.txt"
BINDER = ROOT / "binder" / "requirements.txt"


def requirement_lines(path: Path) -> list[str]:
    """The requirement lines of a pip requirements file, following ``-r`` includes, comments dropped."""
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #")[0].strip() if not raw.lstrip().startswith("#") else ""
        if line.startswith("-r "):
            lines += requirement_lines(path.parent / line[3:].strip())
        elif line:
            lines.append(line)
    return lines


def pins(path: Path) -> dict[tuple[str, str], str]:
    """(canonical name, marker) -> pinned version of every requirement of ``path`` (includes followed)."""
    result = {}
    for line in requirement_lines(path):
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{path.relative_to(ROOT)}: {line!r} is not pinned with =="
        key = (canonicalize_name(requirement.name), str(requirement.marker or ""))
        assert key not in result, f"{path.relative_to(ROOT)}: {requirement.name} is pinned twice"
        result[key] = specifiers[0].version
    return result


def test_dependencies_are_pinned_and_jupyter_book_is_below_2():
    everything = pins(ROOT / "requirements.txt")
    book = next(version for (name, _), version in everything.items() if name == "jupyter-book")
    assert int(book.split(".")[0]) < 2, "jupyter-book 2.x ignores _config.yml/_toc.yml"
    from importlib.metadata import version

    assert int(version("jupyter-book").split(".")[0]) < 2


def test_the_full_set_includes_the_learner_set():
    assert "-r requirements/learner.txt" in (ROOT / "requirements.txt").read_text().splitlines()
    learner, everything = pins(LEARNER), pins(ROOT / "requirements.txt")
    assert learner.items() <= everything.items()
    book_tools = {"jupyter-book", "sphinx", "pytest", "ruff", "playwright", "jupyterlab", "nbval", "build"}
    assert not {name for name, _ in learner} & book_tools, "the learner set must not carry the book's, test or lint tools"


def test_binder_pins_equal_the_learner_pins():
    binder, learner = pins(BINDER), pins(LEARNER)
    differ = [f"{name}{' ; ' + marker if marker else ''}: binder {binder[name, marker]}, main {learner[name, marker]}"
              for name, marker in binder.keys() & learner.keys() if binder[name, marker] != learner[name, marker]]
    assert not differ, "binder/requirements.txt pins other versions than requirements/learner.txt:\n" + "\n".join(differ)
    assert binder.keys() == learner.keys(), (
        f"binder/requirements.txt and requirements/learner.txt list different packages: only in binder "
        f"{sorted(binder.keys() - learner.keys())}, only in the learner set {sorted(learner.keys() - binder.keys())} "
        "(`cp requirements/learner.txt binder/requirements.txt`)"
    )


def ci_python() -> str:
    """The Python version the test workflow runs ``make test`` on: the default of ``actions/setup-python``, the last
    version its ``python-version`` lists (the others, 3.12 and 3.13, serve .ci/colab_like and the learner's path)."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "test.yml").read_text())
    versions = {str(step["with"]["python-version"]).split()[-1] for job in workflow["jobs"].values() for step in job["steps"]
                if str(step.get("uses", "")).startswith("actions/setup-python")}
    assert len(versions) == 1, versions
    return versions.pop()


def test_binder_builds_the_python_ci_tests_and_installs_the_package_without_dependencies():
    # repo2docker uses binder/ when it exists and then ignores the files at the top (requirements.txt,
    # pyproject.toml); without runtime.txt it would pick its newest Python, for which TensorFlow has no wheel.
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == f"python-{ci_python()}"
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable (repo2docker runs it as a program)"
    commands = [ln for ln in post_build.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert any("pip install" in ln and "--no-deps" in ln for ln in commands), "postBuild must install flatgap with --no-deps"
    assert not (ROOT / ".binder").exists(), "repo2docker would read .binder/ instead of binder/"


# The pins install TensorFlow as tensorflow-cpu on Linux x86-64: the same code, which pip counts as another project.
SAME_CODE = {"tensorflow": {"tensorflow", "tensorflow-cpu"}}


def package_dependencies() -> list[Requirement]:
    return [Requirement(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]


def test_the_learner_pins_satisfy_every_dependency_of_the_package():
    learner = pins(LEARNER)
    problems = []
    for requirement in package_dependencies():
        names = SAME_CODE.get(canonicalize_name(requirement.name), {canonicalize_name(requirement.name)})
        versions = [version for (name, _), version in learner.items() if name in names]
        if not versions:
            problems.append(f"{requirement}: not in requirements/learner.txt")
        problems += [f"{requirement}: the learner set pins {v}" for v in versions if v not in requirement.specifier]
    assert not problems, "\n".join(problems)


def imported_modules(folder: Path) -> set[str]:
    """Top-level names of every module the ``.py`` files under ``folder`` import (at any depth of the code)."""
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_the_package_declares_every_distribution_it_imports():
    declared = {canonicalize_name(r.name) for r in package_dependencies()}
    declared |= {alias for name in declared for alias in SAME_CODE.get(name, ())}
    third_party = sorted(imported_modules(ROOT / "flatgap") - set(sys.stdlib_module_names) - {"flatgap", "__future__"})
    providers = packages_distributions()
    undeclared = [f"{module} (from {providers.get(module)})" for module in third_party
                  if not {canonicalize_name(d) for d in providers.get(module, [module])} & declared]
    assert not undeclared, f"flatgap imports these without declaring them in pyproject.toml's dependencies: {undeclared}"


def test_the_license_is_an_spdx_expression():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert isinstance(project["license"], str), "PEP 639: the license is an SPDX expression, not a table"
    from packaging.licenses import canonicalize_license_expression

    assert canonicalize_license_expression(project["license"]) == project["license"]
    assert project["license-files"] == ["LICENSE"]


def test_config_sets_what_the_build_relies_on():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["only_build_toc_files"] is True
    assert config["execute"]["execute_notebooks"] == "cache"
    assert config["execute"]["exclude_patterns"] == ["exercises/*"], "exercise stubs must never be executed by the build"
    assert config["sphinx"]["config"]["nb_execution_raise_on_error"] is True
    assert config["repository"]["url"].startswith("https://github.com/")
    assert (ROOT / "references.bib").exists()
