"""The package's generated modules equal the chapters' ``#@save`` cells (tools/sync_saved.py), and the check can fail."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(root / "tools" / "sync_saved.py"), "--check"], cwd=root, capture_output=True, text=True, timeout=120
    )


def copy_project(tmp_path: Path) -> Path:
    """The pieces sync_saved.py reads: the tool and its toc helper, the table of contents, the chapters and the package sources."""
    (tmp_path / "tools").mkdir()
    for tool in ("sync_saved.py", "toc.py"):
        shutil.copy(ROOT / "tools" / tool, tmp_path / "tools")
    shutil.copy(ROOT / "_toc.yml", tmp_path)
    shutil.copytree(ROOT / "chapters", tmp_path / "chapters", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(ROOT / "flatgap", tmp_path / "flatgap", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_package_equals_the_chapters():
    result = run_check(ROOT)
    assert result.returncode == 0, f"flatgap/ differs from the chapters' #@save cells; run `make sync`:\n{result.stdout}{result.stderr}"
    assert (ROOT / "flatgap" / "reference" / "layers.py").exists()


def test_check_detects_an_edited_module(tmp_path):
    root = copy_project(tmp_path)
    assert run_check(root).returncode == 0
    module = root / "flatgap" / "reference" / "layers.py"
    module.write_text(module.read_text().replace("return np.maximum(x, 0), x", "return np.maximum(x, 0.0), x", 1))
    result = run_check(root)
    assert result.returncode == 1
    assert "reference/layers.py differs" in result.stdout


def test_check_detects_an_edited_chapter(tmp_path):
    root = copy_project(tmp_path)
    path = root / "chapters" / "in_numpy" / "gap.ipynb"
    notebook = json.loads(path.read_text())
    cell = next(c for c in notebook["cells"] if c["cell_type"] == "code" and "".join(c["source"]).startswith("#@save reference.layers"))
    cell["source"] = "".join(cell["source"]) + "\n\nEXTRA = 1\n"
    path.write_text(json.dumps(notebook))
    result = run_check(root)
    assert result.returncode == 1
    assert "+EXTRA = 1" in result.stdout
