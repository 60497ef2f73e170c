"""`make bench`'s step benchmark (tools/bench_steps.py): FLOPs from the package's own counting, one table in one run."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import bench_steps  # noqa: E402


def test_flops_per_step_follow_the_multiply_adds_of_the_layout():
    from flatgap.costs import count_macs
    from flatgap.models import build_classifier

    config = bench_steps.LAYOUTS["8x8 narrow (16, 32), gap"][0]
    # conv1: 8*8 positions * 16 filters * 3*3*1; conv2: 8*8 * 32 * 3*3*16; Dense: 32*10
    assert count_macs(build_classifier(**config)) == 8 * 8 * 16 * 9 + 8 * 8 * 32 * 9 * 16 + 32 * 10


def test_every_layout_builds_with_a_fixed_input_size():
    from flatgap.models import build_classifier

    for name, (config, chapters) in bench_steps.LAYOUTS.items():
        model = build_classifier(**config)
        assert None not in model.input_shape[1:], name
        assert chapters, f"{name}: say which chapters train it"


def test_one_run_prints_the_table_with_the_matmul_reference():
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "bench_steps.py"), "--backends", "eigen",
                          "--layouts", "8x8 pooled (16, 32), flatten"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("One training step") and "GFLOP/s" in lines[1] and "of matmul" in lines[1]
    (row,) = [line for line in lines if line.startswith("8x8 pooled")]
    (roof,) = [line for line in lines if line.startswith("matmul 1024")]
    assert row.split()[-1].endswith("%") and roof.split()[-1] == "100%"
    assert float(row.split()[-3]) > 0


def test_unknown_layouts_are_refused_with_the_known_ones():
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "bench_steps.py"), "--layouts", "9x9 nothing"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "unknown layouts" in out.stderr and "8x8 narrow" in out.stderr




def test_run_profile_splits_a_run_into_parts_that_add_up():
    """tools/run_profile.py (make bench, part 3): each layout's line names every part, and the shares sum to 100%."""
    import re

    out = subprocess.run([sys.executable, str(ROOT / "tools" / "run_profile.py")], capture_output=True, text=True,
                         check=True, cwd=ROOT, timeout=600).stdout
    lines = [line for line in out.splitlines() if line.startswith("8x8 ")]
    assert len(lines) == 2, out
    for line in lines:
        total = float(re.search(r"steps, ([\d.]+) s:", line).group(1))
        parts = [float(value) for value in re.findall(r"([\d.]+) s \(\d+%\)", line)]
        other = float(re.search(r"other (-?[\d.]+) s", line).group(1))
        # Six numbers printed to 0.01 s, each off by up to 0.005 s from the value it rounds.
        assert len(parts) == 4 and abs(sum(parts) + other - total) <= 6 * 0.005 + 1e-9, line
        assert float(re.search(r"([\d.]+) ms a step", line).group(1)) > 0


def test_a_grouped_model_holds_r_replicates_that_never_mix():
    import numpy as np

    from flatgap.models import build_classifier

    config = bench_steps.LAYOUTS["12x12 pooled (16, 32), gap"][0]
    one, three = build_classifier(**config), bench_steps.grouped_model(config, 3)
    assert three.count_params() == 3 * one.count_params()
    x = np.random.default_rng(0).random((2, 12, 12, 3), dtype=np.float32)
    changed = x.copy()
    changed[..., 1] += 1.0  # replicate 1's input only
    before, after = np.asarray(three(x)), np.asarray(three(changed))
    assert np.allclose(before[:, [0, 2]], after[:, [0, 2]]) and not np.allclose(before[:, 1], after[:, 1])
