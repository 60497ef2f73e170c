"""Checkers of exercise 3, experiments: each ``check_<name>(fn, ...)`` grades the student's ``<name>``."""

from __future__ import annotations

import numpy as np

from flatgap.grading.harness import Check, case_rng

__all__ = [
    "check_shift_images",
    "check_fraction_unchanged",
    "check_generalization_gap",
    "check_pad_to",
    "check_gap_dilution",
]


def check_shift_images(shift_images) -> None:
    """``shift_images(images, dy, dx)``: move content down by dy and right by dx, zero fill, no wrap-around."""
    __tracebackhide__ = True
    from flatgap.experiments.shift import shift_images as reference

    check = Check(shift_images, "shift_images")
    square = case_rng(400).random((2, 8, 8, 1)) + 0.5
    wide = case_rng(401).random((1, 5, 7, 3)) + 0.5
    cases = [(square, 1, 0), (square, 0, -2), (square, 3, 2), (square, -1, -1), (square, 0, 0), (square, 8, 0), (wide, 2, 3), (wide, 0, -6)]
    fixed, rng = len(cases), check.fresh
    for _ in range(4):
        n, h, w, c = (int(v) for v in (rng.integers(1, 4), rng.integers(1, 11), rng.integers(1, 11), rng.integers(1, 4)))
        cases.append((rng.random((n, h, w, c)) + 0.5, int(rng.integers(-h - 1, h + 2)), int(rng.integers(-w - 1, w + 2))))
    for i, (images, dy, dx) in enumerate(cases):
        text = f"shift_images(images, dy={dy}, dx={dx}) with images of shape {images.shape}"
        text = text if i < fixed else check.random(text)
        got = check.call(text, images, dy, dx)
        if isinstance(got, np.ndarray) and 0 in check.shares:
            check.fail(text, "a new array", "the input array itself (or a view of it)", "start from np.zeros_like(images) and copy the block that stays in view")
        expected = reference(images, dy, dx)
        hints = [(np.roll(images, (dy, dx), axis=(1, 2)), "pixels that leave the image must not come back on the other side (np.roll wraps around): fill the vacated pixels with zeros")]
        if images.shape[1] == images.shape[2] and dy != dx:
            hints.append((reference(images, dx, dy), "dy moves rows (axis 1, down when positive), dx moves columns (axis 2, right when positive)"))
        if (dy, dx) != (0, 0):
            hints.append((reference(images, -dy, -dx), "positive dy moves the content DOWN and positive dx moves it RIGHT"))
            hints.append((images, "the images came back unshifted"))
        check.array(text, got, expected, "images", shape_hints={}, value_hints=hints)
    check.passed()


def _random_gap_model(input_shape, rng):
    """A small GAP classifier with random weights (the checker's own model for a fresh case)."""
    from flatgap.models.classifier import build_classifier

    model = build_classifier("gap", tuple(input_shape), 10, tuple(int(v) for v in rng.integers(4, 17, size=2)))
    model.set_weights([(rng.standard_normal(weight.shape) * 0.5).astype("float32") for weight in model.get_weights()])
    return model


def check_fraction_unchanged(fraction_unchanged, model, images) -> None:
    """``fraction_unchanged(model, images, k) -> float``: share of images whose predicted class stays the
    same when the images are shifted right by k pixels with zero fill. Besides the notebook's model, the
    checker runs ``fraction_unchanged`` on a GAP model of its own with random weights. The expected fractions are
    computed here; ``fraction_unchanged`` runs where the student's code lives, on a copy of each model loaded from a
    ``.keras`` file."""
    __tracebackhide__ = True
    from flatgap.experiments.shift import shift_images

    check = Check(fraction_unchanged, "fraction_unchanged")
    images = np.asarray(images)
    n = len(images)
    results = {}
    rng = check.fresh
    own = _random_gap_model(images.shape[1:], rng)
    subset = images[np.sort(rng.permutation(n)[: int(rng.integers(min(n, 50), n + 1))])]
    cases = [(model, images, 1), (model, images, 0), (model, images, 2), (model, images, 3), (model, images[:1], 2), (own, subset, int(rng.integers(1, 4)))]
    for this_model, batch, k in cases:
        text = f"fraction_unchanged(model, images, {k}) with images of shape {batch.shape}"
        if this_model is not model:
            text = check.random(text + " on a GAP model with random weights")
            probs = this_model.predict(batch, verbose=0, batch_size=512)
            before = probs.argmax(axis=1)
        else:
            probs = model.predict(images, verbose=0, batch_size=512)
            before = probs.argmax(axis=1)
        got = check.call(text, this_model, batch, k)
        shifted = this_model.predict(shift_images(batch, 0, k), verbose=0, batch_size=512)
        expected = float(np.mean(shifted.argmax(axis=1) == before[: len(batch)]))
        rolled = this_model.predict(np.roll(batch, k, axis=2), verbose=0, batch_size=512).argmax(axis=1)
        down = this_model.predict(shift_images(batch, k, 0), verbose=0, batch_size=512).argmax(axis=1)
        hints = [
            (1 - expected, "that is the fraction of predictions that CHANGED; return the fraction unchanged"),
            (float(np.mean(rolled == before[: len(batch)])), "use zero fill, not np.roll (which wraps the pixels around)"),
            (float(np.mean(down == before[: len(batch)])), "shift to the right (along the width, axis 2), not down"),
            (float(np.mean(np.all(shifted == probs[: len(batch)], axis=1))), "compare the predicted classes (argmax over the last axis), not the probability vectors"),
        ]
        # On a large batch, allow one prediction to flip on a near-tie (a different batch size in predict
        # can change the last bits of the probabilities); a batch of one must match exactly.
        slack = 1.01 / len(batch) if len(batch) >= 50 else 1e-9
        check.number(text, got, expected, "a fraction between 0 and 1", hints=[h for h in hints if abs(h[0] - expected) > 2 * slack], atol=slack, rtol=0)
        if this_model is model and len(batch) == n:
            results[k] = expected
    shown = ", ".join(f"{results[k]:.2f} (k={k})" for k in sorted(results))
    check.passed(f"on this model, the fraction of unchanged predictions is {shown}")


def check_generalization_gap(generalization_gap) -> None:
    """``generalization_gap(runs, head) -> (mean, std)`` of train minus test accuracy over that head's runs
    (population standard deviation, ``np.std``)."""
    __tracebackhide__ = True
    check = Check(generalization_gap, "generalization_gap")
    suites = []
    for rng, plan in [(case_rng(500), [("flatten", 3, 0.88), ("gap", 4, 0.93), ("gmp", 1, 0.90)]), (check.fresh, None)]:
        if plan is None:  # the random suite: heads in a random order, 1 to 6 runs each
            plan = [(head, int(rng.integers(1, 7)), float(rng.uniform(0.6, 0.95))) for head in rng.permutation(["flatten", "gap", "gmp", "flatten+dropout"])]
        runs = []
        for head, seeds, base in plan:
            for seed in range(seeds):
                train = float(min(1.0, 0.99 + 0.01 * rng.random()))
                runs.append({"head": str(head), "seed": seed, "train_accuracy": train, "test_accuracy": float(base + 0.04 * rng.random())})
        if suites:
            runs = [runs[i] for i in rng.permutation(len(runs))]
        suites.append((runs, [str(head) for head, _, _ in plan], bool(suites)))
    for runs, heads, random in suites:
        for head in heads:
            _check_gap_of(check, runs, head, random)
    check.passed()


def _check_gap_of(check: Check, runs: list, head: str, random: bool) -> None:
    __tracebackhide__ = True
    text = f"generalization_gap(runs, {head!r}) with {len(runs)} runs ({sum(r['head'] == head for r in runs)} of head {head!r})"
    text = check.random(text) if random else text
    got = check.call(text, runs, head)
    gaps = np.array([r["train_accuracy"] - r["test_accuracy"] for r in runs if r["head"] == head])
    all_gaps = np.array([r["train_accuracy"] - r["test_accuracy"] for r in runs])
    mean, std = check.pair(text, got, "(mean, std)")
    check.number(
        text + " — the mean",
        mean,
        float(gaps.mean()),
        "the mean gap",
        hints=[(-gaps.mean(), "the gap is train accuracy MINUS test accuracy"), (all_gaps.mean(), "use only the runs of the given head"), (gaps.std(), "return (mean, std) in that order")],
    )
    std_hints = [(all_gaps.std(), "use only the runs of the given head"), (gaps.mean(), "return (mean, std) in that order")]
    if len(gaps) > 1:
        std_hints.insert(0, (gaps.std(ddof=1), "use the population standard deviation, np.std (ddof=0), as the course's tables do"))
    check.number(text + " — the standard deviation", std, float(gaps.std()), "the standard deviation", hints=std_hints)


def check_pad_to(pad_to) -> None:
    """``pad_to(x, height, width)``: zero-pad (N, H, W, C) maps to (N, height, width, C), centred, the odd
    row or column going to the bottom or right."""
    __tracebackhide__ = True
    check = Check(pad_to, "pad_to")
    cases = [((2, 4, 4, 3), (8, 8)), ((1, 5, 3, 1), (8, 6)), ((3, 2, 7, 2), (2, 9)), ((1, 3, 3, 2), (3, 3))]
    fixed, rng = len(cases), check.fresh
    for _ in range(3):
        shape = tuple(int(v) for v in (rng.integers(1, 4), rng.integers(1, 9), rng.integers(1, 9), rng.integers(1, 4)))
        cases.append((shape, (shape[1] + int(rng.integers(0, 8)), shape[2] + int(rng.integers(0, 8)))))
    for i, (shape, (height, width)) in enumerate(cases):
        x = (case_rng(600 + i) if i < fixed else rng).random(shape) + 0.5
        n, h, w, c = shape
        top, left = (height - h) // 2, (width - w) // 2
        bottom, right = height - h - top, width - w - left
        text = f"pad_to(x, {height}, {width}) with x of shape {shape}"
        text = text if i < fixed else check.random(text)
        got = check.call(text, x, height, width)
        expected = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
        check.array(
            text,
            got,
            expected,
            "padded maps",
            shape_hints=lambda got, n=n, c=c: "pad only axes 1 and 2 (H and W); N and C stay as they are" if got[0] != n or got[-1] != c else None,
            value_hints=[
                (np.pad(x, ((0, 0), (0, height - h), (0, width - w), (0, 0))), "centre the maps: (height - H) // 2 rows of zeros on top, the rest below"),
                (np.pad(x, ((0, 0), (bottom, top), (right, left), (0, 0))), "when the padding is odd, the extra row goes to the bottom and the extra column to the right"),
                (np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), mode="edge"), "pad with zeros, not by repeating the border"),
            ],
        )
    check.passed()


def check_gap_dilution(gap_dilution) -> None:
    """``gap_dilution(height, width, new_height, new_width) -> float``: GAP(padded) / GAP(original) = H*W / (H'*W')."""
    __tracebackhide__ = True
    check = Check(gap_dilution, "gap_dilution")
    cases = [(4, 4, 8, 8), (5, 3, 8, 6), (7, 7, 7, 7), (1, 1, 3, 5), (7, 7, 9, 9)]
    fixed, rng = len(cases), check.fresh
    for _ in range(3):
        h, w = (int(v) for v in rng.integers(1, 30, size=2))
        cases.append((h, w, h + int(rng.integers(0, 20)), w + int(rng.integers(0, 20))))
    for i, args in enumerate(cases):
        h, w, nh, nw = args
        text = f"gap_dilution{args}"
        text = text if i < fixed else check.random(text)
        got = check.call(text, *args)
        check.number(
            text,
            got,
            h * w / (nh * nw),
            "the factor H*W / (H'*W')",
            hints=[
                (nh * nw / (h * w), "the ratio is upside down: the padded map averages the same sum over MORE positions, so the factor is below 1"),
                (
                    (h * w / (nh * nw)) ** 0.5,
                    "the factor is H*W / (H'*W'): both axes grow, and no square root" if np.isclose((h * w / (nh * nw)) ** 0.5, h / nh)
                    else "take no square root: the factor is the ratio of the numbers of positions, H*W / (H'*W')",
                ),
                (h / nh, "both axes grow: H*W / (H'*W')"),
            ],
        )
    # The identity the factor expresses, on random maps: GAP of the zero-padded maps = GAP of the maps x factor.
    x = case_rng(700).random((2, 7, 7, 3))
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    ratio = padded.mean(axis=(1, 2)) / x.mean(axis=(1, 2))
    if not np.allclose(ratio, 49 / 81):
        raise AssertionError(f"gap_dilution: internal check failed: padding 7x7 maps to 9x9 scaled GAP by {ratio.ravel()}")
    check.passed(f"zero-padding 7x7 maps to 9x9 multiplies their global average by {float(ratio.mean()):.4f} = 7*7 / (9*9)")
