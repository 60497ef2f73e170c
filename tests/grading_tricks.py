"""The tricks of issue 23, written as notebooks: each trick on its own question, so that one kernel run grades several.

Every trick returns a wrong answer (or loops over the data) and tries to make the grader accept it anyway. A
trick that touches something global (a module in ``sys.modules``, a class, a thread) acts only while the check of
its own question runs, so that it cannot be blamed for another question's points. ``tests/test_grading_isolation.py``
grades these notebooks; ``python tests/grading_tricks.py`` prints the table of points per trick.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from flatgap.grading.generate import replace_regions
from flatgap.grading.notebooks import read_notebook

ROOT = Path(__file__).resolve().parent.parent


def solution(name: str):
    return read_notebook(ROOT / "solutions" / f"{name}.ipynb")


def insert_after(notebook, anchor: str, source: str) -> None:
    """Insert a code cell after the first cell whose source contains ``anchor``."""
    index = next(i for i, c in enumerate(notebook.cells) if anchor in c.source)
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source))


# --- exercise 1: the crafted tricks (one per question) ------------------------------------------------------

EX1_BODIES = {
    # a lying ndarray subclass: np.allclose on it answers True
    "ex1-q1": [
        "class Liar(np.ndarray):",
        "    def __array_function__(self, func, types, args, kwargs):",
        "        if func.__name__ in ('allclose', 'isclose', 'array_equal'):",
        "            return True",
        "        return super().__array_function__(func, types, args, kwargs)",
        "return np.zeros((x.shape[0], x[0].size)).view(Liar), x.shape",
    ],
    # np.allclose rebound while the function runs (after the grader restored numpy)
    "ex1-q2": ["import numpy", "numpy.allclose = lambda *a, **k: True", "return np.zeros(cache)"],
    # gap_forward is wrong; the numpy proxy (a cell below) answers allclose with True during its check
    "ex1-q3": ["return x.sum(axis=(1, 2)), x.shape"],
    # gap_backward is wrong; the JSON encoder (a cell below) reports it as passed
    "ex1-q4": ["return np.zeros(cache)"],
    # gmp_backward is wrong; the replaced grader module (a cell below) reports it as passed
    "ex1-q5": ["return np.zeros(cache.shape)"],
    # an honest mistake: a loop over pixels "made faster" with a thread pool
    "ex1-q6": [
        "from concurrent.futures import ThreadPoolExecutor",
        "kh, kw, _, f = w.shape",
        "n, h, width, _ = x.shape",
        "oh, ow = h - kh + 1, width - kw + 1",
        "out = np.zeros((n, oh, ow, f))",
        "def pixel(index):",
        "    i, j = divmod(index, ow)",
        "    out[:, i, j, :] = np.tensordot(x[:, i : i + kh, j : j + kw, :], w, axes=3)",
        "with ThreadPoolExecutor(4) as pool:",
        "    list(pool.map(pixel, range(oh * ow)))",
        "return out + b, (x, w, b)",
    ],
    # softmax_cross_entropy is wrong; the writer thread (defined in a cell below, started by the call) rewrites its result file
    "ex1-q7": ["start_writer()", "return 0.0, np.zeros(logits.shape)"],
    # frame peeking: an int whose float() is the checker's expected value
    "ex1-q8": [
        "import sys",
        "class Peek(int):",
        "    def __float__(self):",
        "        frame = sys._getframe(1)",
        "        while frame is not None:",
        "            if 'expected' in frame.f_locals and isinstance(frame.f_locals['expected'], (int, float)):",
        "                return float(frame.f_locals['expected'])",
        "            frame = frame.f_back",
        "        return 0.0",
        "return Peek(0)",
    ],
    # dense_param_count is wrong; the poisoned importer cache (a cell below) loads a checker that passes it
    "ex1-q9": ["return 0"],
}

NUMPY_PROXY = '''\
import sys, types, inspect
import numpy as _real_numpy


class NumpyProxy(types.ModuleType):  # numpy, but allclose is True while gap_forward is checked
    def __getattr__(self, name):
        value = getattr(_real_numpy, name)
        if name == "allclose":
            def allclose(*args, **kwargs):
                if any(f.function == "check_gap_forward" for f in inspect.stack()):
                    return True
                return value(*args, **kwargs)
            return allclose
        return value


sys.modules["numpy"] = NumpyProxy("numpy")'''

JSON_ENCODER = '''\
import json

_encode = json.JSONEncoder.encode


def encode(self, value):  # every result of ex1-q4 is reported as passed
    if isinstance(value, dict) and value.get("question") == "ex1-q4":
        value = dict(value, status="passed", message="", ename=None)
    return _encode(self, value)


json.JSONEncoder.encode = encode'''

REPLACED_GRADER = '''\
import sys, json


class Wrapped:  # the grader's module, replaced by one that reports ex1-q5 as passed
    def __init__(self, grader):
        self.inner = grader

    def run(self, namespace, request):
        self.inner.run(namespace, request)
        request = json.loads(request)
        if request["question"]["id"] == "ex1-q5":
            path = request["output"]
            result = json.loads(open(path).read().splitlines()[0])
            result.update(status="passed", message="", ename=None)
            open(path, "w").write(json.dumps(result) + "\\n")


for _name in [n for n in sys.modules if n.startswith("_flatgap_grader_")]:
    sys.modules[_name].grader = Wrapped(sys.modules[_name].grader)'''

WRITER_THREAD = '''\
import glob, json, threading, time


def rewrite():  # rewrites every result file of ex1-q7 to "passed", as soon as it appears
    while True:
        for path in glob.glob("/tmp/flatgap-grade-*/*ex1-q7*"):
            try:
                text = open(path).read()
                result = json.loads(text.splitlines()[0])
            except Exception:
                continue
            if result.get("status") != "passed":
                result.update(status="passed", message="", ename=None)
                open(path, "w").write(json.dumps(result) + "\\n")
        time.sleep(0.0005)


def start_writer():
    if not any(t.name == "writer" for t in threading.enumerate()):
        threading.Thread(target=rewrite, name="writer", daemon=True).start()'''

POISONED_CACHE = '''\
import importlib.machinery, os, sys
import flatgap.grading

_folder = os.path.dirname(flatgap.grading.__file__)
_real = importlib.machinery.FileFinder(_folder, (importlib.machinery.SourceFileLoader, [".py"]))


class Poisoned:  # finds flatgap.grading.ex1 as usual, then replaces its checker of dense_param_count
    def find_spec(self, fullname, target=None):
        spec = _real.find_spec(fullname, target)
        if spec is not None and fullname == "flatgap.grading.ex1":
            loader = spec.loader
            exec_module = loader.exec_module

            def patched(module):
                exec_module(module)
                module.check_dense_param_count = lambda fn: print("✓ dense_param_count: all checks passed")

            loader.exec_module = patched
        return spec

    def invalidate_caches(self):
        pass


sys.path_importer_cache[_folder] = Poisoned()'''


def ex1_tricks():
    """Exercise 1, every question a trick (q6: the honest thread-pool loop)."""
    notebook = replace_regions(solution("ex1_numpy_layers"), lambda region: EX1_BODIES[region.question])
    for source in (POISONED_CACHE, WRITER_THREAD, REPLACED_GRADER, JSON_ENCODER, NUMPY_PROXY):
        insert_after(notebook, "from flatgap.grading.ex1 import", source)
    return notebook


def ex1_global_tricks_with_correct_answers():
    """The tricks of exercise 1 that change the kernel for everyone (numpy proxy, JSON encoder, replaced grader
    module, poisoned importer cache, a running writer thread), beside the solution's correct answers."""
    notebook = solution("ex1_numpy_layers")
    for source in (POISONED_CACHE, WRITER_THREAD + "\n\n\nstart_writer()", REPLACED_GRADER, JSON_ENCODER, NUMPY_PROXY):
        insert_after(notebook, "from flatgap.grading.ex1 import", source)
    return notebook


# --- exercise 4: vectorization tricks, a table, an honest thread pool, controls ---------------------------

EX4_TRICKS = {
    # sys.settrace(None) before four nested loops
    "ex4-q1": [
        "import sys, threading",
        "sys.settrace(None)",
        "threading.settrace(None)",
        "rows, cols = (output_size, output_size) if isinstance(output_size, int) else output_size",
        "n, h, w, c = x.shape",
        "out = np.zeros((n, rows, cols, c))",
        "for i in range(rows):",
        "    r0, r1 = i * h // rows, -(-(i + 1) * h // rows)",
        "    for j in range(cols):",
        "        c0, c1 = j * w // cols, -(-(j + 1) * w // cols)",
        "        for m in range(n):",
        "            for k in range(c):",
        "                out[m, i, j, k] = x[m, r0:r1, c0:c1, k].mean()",
        "return out",
    ],
    # a fixed busy loop dilutes a 10% tolerance; the real loop is over channels
    "ex4-q2": [
        "for _ in range(3000):",
        "    pass",
        "z = np.maximum(x, 1e-6)",
        "out = np.zeros((x.shape[0], x.shape[3]))",
        "for k in range(x.shape[3]):",
        "    out[:, k] = (z[..., k] ** p).mean(axis=(1, 2)) ** (1.0 / p)",
        "return out",
    ],
    # a table of Pascal rows 1 to 9
    "ex4-q5": [
        "TABLE = {1: [1], 2: [1, 1], 3: [1, 2, 1], 4: [1, 3, 3, 1], 5: [1, 4, 6, 4, 1], 6: [1, 5, 10, 10, 5, 1],",
        "         7: [1, 6, 15, 20, 15, 6, 1], 8: [1, 7, 21, 35, 35, 21, 7, 1], 9: [1, 8, 28, 56, 70, 56, 28, 8, 1]}",
        "row = np.array(TABLE.get(size, [1] * size), dtype=float)",
        "kernel = np.outer(row, row)",
        "return kernel / kernel.sum()",
    ],
    # an honest mistake: a loop over pixels in a thread pool
    "ex4-q6": [
        "from concurrent.futures import ThreadPoolExecutor",
        "kernel = binomial_kernel(size)",
        "before, after = (size - 1) // 2, size // 2",
        'padded = np.pad(x, ((0, 0), (before, after), (before, after), (0, 0)), mode="reflect")',
        "out_h, out_w = -(-x.shape[1] // stride), -(-x.shape[2] // stride)",
        "out = np.zeros((x.shape[0], out_h, out_w, x.shape[3]))",
        "def pixel(index):",
        "    i, j = divmod(index, out_w)",
        "    window = padded[:, i * stride : i * stride + size, j * stride : j * stride + size, :]",
        "    out[:, i, j, :] = np.einsum('nabc,ab->nc', window, kernel)",
        "with ThreadPoolExecutor(4) as pool:",
        "    list(pool.map(pixel, range(out_h * out_w)))",
        "return out",
    ],
}

EX4_MORE_TRICKS = {
    # a loop over images and channels in a helper whose code claims to be numpy's (co_filename spoofing)
    "ex4-q1": [
        "rows, cols = (output_size, output_size) if isinstance(output_size, int) else output_size",
        "out = np.zeros((x.shape[0], rows, cols, x.shape[3]))",
        "SPOOFED(x, rows, cols, out)",
        "return out",
    ],
    # a loop over channels that runs in C and library code: map(functools.partial(np.mean, ...)) over the channels
    "ex4-q2": [
        "import functools",
        "z = np.maximum(x, 1e-6) ** p",
        "means = list(map(functools.partial(np.mean, axis=(1, 2)), np.moveaxis(z, 3, 0)))",
        "return np.stack(means, axis=1) ** (1.0 / p)",
    ],
}

SPOOFED_HELPER = '''\
import numpy, os

_source = """
def SPOOFED(x, rows, cols, out):
    n, h, w, c = x.shape
    for i in range(rows):
        for j in range(cols):
            for m in range(n):
                for k in range(c):
                    out[m, i, j, k] = x[m, i * h // rows : -(-(i + 1) * h // rows), j * w // cols : -(-(j + 1) * w // cols), k].mean()
"""
exec(compile(_source, os.path.join(os.path.dirname(numpy.__file__), "core", "numeric.py"), "exec"))'''

ENDLESS_CELL = '''\
while True:  # a cell that never ends and swallows every interrupt
    try:
        while True:
            pass
    except KeyboardInterrupt:
        pass'''

CONTROLS = {
    # controls: type hints, a helper function, einsum instead of the solution's matrix product
    "ex4-q3": [
        "scores: np.ndarray = np.einsum('nhwc,c->nhw', x, v)",
        "e = np.exp(_shift(scores))",
        "return e / e.sum(axis=(1, 2), keepdims=True)",
    ],
    "ex4-q4": [
        "n, h, w, _ = x.shape",
        "grids = np.meshgrid(_axis(h), _axis(w), indexing='ij')",
        "channels = list(grids) + ([np.sqrt(grids[0] ** 2 + grids[1] ** 2)] if with_r else [])",
        "coords = np.broadcast_to(np.stack(channels, axis=-1), (n, h, w, len(channels)))",
        "return np.concatenate([x, coords], axis=-1)",
    ],
}

CONTROL_HELPERS = '''\
def _shift(scores: np.ndarray) -> np.ndarray:  # a helper in its own cell, with type hints
    return scores - scores.max(axis=(1, 2), keepdims=True)


def _axis(size: int) -> np.ndarray:
    return np.linspace(-1.0, 1.0, size) if size > 1 else np.zeros(1)'''


def ex4_tricks():
    """Exercise 4: q1 settrace(None), q2 a busy loop, q5 the table to 9, q6 the thread pool; q3 and q4 controls."""
    bodies = EX4_TRICKS | CONTROLS
    notebook = replace_regions(solution("ex4_beyond_two_heads"), lambda region: bodies[region.question], questions=set(bodies))
    insert_after(notebook, "from flatgap.grading.ex4 import", CONTROL_HELPERS)
    insert_after(notebook, "def add_coords", "print('an extra cell of my own:', add_coords(np.zeros((1, 2, 3, 1))).shape)")
    return notebook


SLOW_BODY = {  # a correct answer that is slow: every call sleeps for longer than the test's limit of one check
    "ex4-q4": ["import time", "time.sleep(SLOW_SECONDS)", "n, h, w, _ = x.shape",
               "def axis(size):", "    return (2 * np.arange(size) - (size - 1)) / max(size - 1, 1)",
               "rows, cols = np.meshgrid(axis(h), axis(w), indexing='ij')",
               "channels = [rows, cols] + ([np.sqrt(rows**2 + cols**2)] if with_r else [])",
               "return np.concatenate([x, np.broadcast_to(np.stack(channels, axis=-1), (n, h, w, len(channels)))], axis=-1)"],
}

SCRATCH_REDEFINITION = """\
def binomial_kernel(size):  # a scratch cell after the graded one: trying something else
    return np.full((size, size), 1 / size**2)"""


def ex4_more_tricks(endless: bool = True, slow: float | None = None):
    """Exercise 4: q1 co_filename spoofing, q2 map over a library call, q5 redefined in a scratch cell after its
    graded cell, q6 defined in a cell that never ends; with ``slow``, q4 correct but sleeping ``slow`` s per call."""
    bodies = EX4_MORE_TRICKS | (SLOW_BODY if slow else {})
    notebook = replace_regions(solution("ex4_beyond_two_heads"), lambda region: bodies[region.question], questions=set(bodies))
    insert_after(notebook, "from flatgap.grading.ex4 import", SPOOFED_HELPER + (f"\n\nSLOW_SECONDS = {slow!r}" if slow else ""))
    insert_after(notebook, "# graded: ex4-q5", SCRATCH_REDEFINITION)
    if endless:
        cell = next(c for c in notebook.cells if c.source.startswith("def blur_downsample"))
        cell.source += "\n\n\n" + ENDLESS_CELL
    return notebook


# --- exercises 2 and 3: the questions whose functions take or return Keras models ---------------------------

EX2_TRICKS = {
    # a global *max* pooling posing as GAP: a class of its own named GlobalAveragePooling2D
    "ex2-q1": [
        "class GlobalAveragePooling2D(keras.layers.GlobalMaxPooling2D):  # GMP, under GAP's name",
        "    pass",
        "inputs = keras.Input(shape=(None, None, channels))",
        "x = keras.layers.Conv2D(8, 3, padding='same', activation='relu')(inputs)",
        "x = GlobalAveragePooling2D()(x)",
        "return keras.Model(inputs, keras.layers.Dense(num_classes, activation='softmax')(x))",
    ],
    # zeros of the right shape; keras.Model.__call__ (patched in a cell below) makes every model's output zero
    # while model_cam is checked
    "ex2-q5": [
        "height, width = model.get_layer(conv_layer).output.shape[1:3]",
        "return np.zeros((len(images), height, width))",
    ],
}

MODEL_CALL_PATCHED = """\
import sys

_call = keras.Model.__call__


def _zero_call(self, *args, **kwargs):  # while model_cam is checked, every model (the checker's too) outputs zeros
    output = _call(self, *args, **kwargs)
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "check_model_cam":
            return output * 0
        frame = frame.f_back
    return output


keras.Model.__call__ = _zero_call"""

EX2_MORE_TRICKS = {
    # a ReLU classifier (rows do not sum to 1) that rebinds np.allclose while it is called
    "ex2-q1": [
        "import numpy",
        "numpy.allclose = lambda *args, **kwargs: True",
        "inputs = keras.Input(shape=(None, None, channels))",
        "x = keras.layers.Conv2D(8, 3, padding='same', activation='relu')(inputs)",
        "x = keras.layers.GlobalAveragePooling2D()(x)",
        "return keras.Model(inputs, keras.layers.Dense(num_classes, activation='relu')(x))",
    ],
    # the CAM plus the bias; the poisoned importer cache (a cell below) loads a check_model_cam that passes it
    "ex2-q5": [
        "features = np.asarray(keras.Model(model.input, model.get_layer(conv_layer).output)(images, training=False))",
        "kernel, bias = model.get_layer('classifier').get_weights()",
        "return features @ kernel[:, class_index] + bias[class_index]",
    ],
}

POISONED_EX2 = POISONED_CACHE.replace("ex1", "ex2").replace(
    'module.check_dense_param_count = lambda fn: print("✓ dense_param_count: all checks passed")',
    'module.check_model_cam = lambda *args: print("✓ model_cam: all checks passed")',
).replace("replaces its checker of dense_param_count", "replaces its checker of model_cam")

EX3_TRICKS = {
    # "no prediction ever changes"; keras.Model.predict (patched in a cell below) makes it true for every model
    "ex3-q2": ["return 1.0"],
}

PREDICT_PATCHED = """\
import keras


def _uniform(self, x, *args, **kwargs):  # every model, the checker's included, now predicts the same for every image
    classes = self.output_shape[-1]
    return np.full((len(x), classes), 1.0 / classes, dtype="float32")


keras.Model.predict = _uniform"""

EX3_MORE_TRICKS = {
    # a made-up fraction, and np.mean rebound while the function is called, so that every mean is that fraction
    "ex3-q2": [
        "import numpy",
        "numpy.mean = lambda *args, **kwargs: 0.5",
        "return 0.5",
    ],
}


def ex2_tricks():
    """Exercise 2: q1 GMP under GAP's name, q5 zeros with keras.Model.__call__ patched; q2 to q4 the solution's."""
    notebook = replace_regions(solution("ex2_keras"), lambda region: EX2_TRICKS[region.question], questions=set(EX2_TRICKS))
    insert_after(notebook, "def model_cam", MODEL_CALL_PATCHED)
    return notebook


def ex2_more_tricks():
    """Exercise 2: q1 a ReLU head with np.allclose rebound during the call, q5 the bias added with a poisoned
    importer cache."""
    notebook = replace_regions(solution("ex2_keras"), lambda region: EX2_MORE_TRICKS[region.question], questions=set(EX2_MORE_TRICKS))
    insert_after(notebook, "from flatgap.grading.ex2 import", POISONED_EX2)
    return notebook


def ex3_tricks():
    """Exercise 3: q2 "nothing changes" with keras.Model.predict patched; the other questions the solution's."""
    notebook = replace_regions(solution("ex3_experiments"), lambda region: EX3_TRICKS[region.question], questions=set(EX3_TRICKS))
    insert_after(notebook, "def fraction_unchanged", PREDICT_PATCHED)
    return notebook


def ex3_more_tricks():
    """Exercise 3: q2 a made-up fraction with np.mean rebound during the call."""
    return replace_regions(solution("ex3_experiments"), lambda region: EX3_MORE_TRICKS[region.question], questions=set(EX3_MORE_TRICKS))


TRICKS = [  # (trick, notebook, question)
    ("ndarray subclass whose np.allclose answers True", "ex1", "ex1-q1"),
    ("np.allclose rebound during the call", "ex1", "ex1-q2"),
    ("numpy proxy in sys.modules", "ex1", "ex1-q3"),
    ("json.JSONEncoder.encode patched", "ex1", "ex1-q4"),
    ("grader module replaced in sys.modules", "ex1", "ex1-q5"),
    ("thread-pool loop over pixels (conv2d)", "ex1", "ex1-q6"),
    ("background thread rewriting result files", "ex1", "ex1-q7"),
    ("int subclass peeking at the checker's frame", "ex1", "ex1-q8"),
    ("sys.path_importer_cache poisoned", "ex1", "ex1-q9"),
    ("sys.settrace(None) before nested loops", "ex4", "ex4-q1"),
    ("fixed busy loop diluting the tolerance", "ex4", "ex4-q2"),
    ("binomial kernel from a table of rows 1-9", "ex4", "ex4-q5"),
    ("thread-pool loop over pixels (blur)", "ex4", "ex4-q6"),
    ("co_filename spoofed to numpy's", "ex4b", "ex4-q1"),
    ("map(functools.partial(np.mean)) over channels", "ex4b", "ex4-q2"),
    ("endless cell that swallows KeyboardInterrupt", "ex4b", "ex4-q6"),
    ("GMP posing as GAP: a layer class named GlobalAveragePooling2D", "ex2", "ex2-q1"),
    ("keras.Model.__call__ patched to output zeros (model_cam)", "ex2", "ex2-q5"),
    ("ReLU head, np.allclose rebound during build_gap_model", "ex2b", "ex2-q1"),
    ("importer cache poisoned: check_model_cam replaced", "ex2b", "ex2-q5"),
    ("keras.Model.predict patched: no prediction changes", "ex3", "ex3-q2"),
    ("np.mean rebound during fraction_unchanged", "ex3b", "ex3-q2"),
]

CONTROL_QUESTIONS = [("einsum, a helper, type hints (control)", "ex4", "ex4-q3"), ("a helper, an extra cell (control)", "ex4", "ex4-q4")]

NOTEBOOKS = {
    "ex1": ("ex1_numpy_layers", ex1_tricks),
    "ex4": ("ex4_beyond_two_heads", ex4_tricks),
    "ex4b": ("ex4_beyond_two_heads", ex4_more_tricks),
    "ex2": ("ex2_keras", ex2_tricks),
    "ex2b": ("ex2_keras", ex2_more_tricks),
    "ex3": ("ex3_experiments", ex3_tricks),
    "ex3b": ("ex3_experiments", ex3_more_tricks),
}


def main() -> None:
    """Grade the trick notebooks, print points per trick (``python tests/grading_tricks.py [seed] [timeout]
    [ex1,ex4,ex4b,ex2,ex2b,ex3,ex3b,ex4b-no-endless,ex1-global]``)."""
    import tempfile
    import time

    from flatgap.grading.runner import grade

    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 23
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 20
    grades = {}
    keys = sys.argv[3].split(",") if len(sys.argv) > 3 else list(NOTEBOOKS)
    notebooks = NOTEBOOKS | {
        "ex4b-no-endless": ("ex4_beyond_two_heads", lambda: ex4_more_tricks(endless=False)),
        "ex1-global": ("ex1_numpy_layers", ex1_global_tricks_with_correct_answers),  # slow (a busy thread): not in the tests
    }
    for key in keys:
        name, build = notebooks[key]
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            grades[key if key == "ex1-global" else key.split("-")[0]] = grade(build(), folder, f"{name}.ipynb", seed=seed, timeout=timeout)
            print(f"{key}: graded in {time.perf_counter() - started:.1f} s", flush=True)
    for trick, key, question in TRICKS + CONTROL_QUESTIONS:
        if key not in grades:
            continue
        outcome = grades[key].by_question()[question]
        print(f"| {trick} | {question} | {outcome.earned} / {outcome.points} | {outcome.message[:150]} |")
    for key, result in grades.items():
        print(key, "score", result.score, "/", result.total, "notes:", result.notes)


if __name__ == "__main__":
    main()
