"""The book's explorable figures: each moves over states its chapter computed and asserted, and says in words what
it shows.

* :func:`translation_explorer` — shift one test digit by (dx, dy) and watch each head's class probabilities
  (*translation*).
* :func:`training_size_explorer` — pick a training-set size and see the paired differences, per seed and as an
  interval (*training-set size*).
* :func:`cam_explorer` — pick an image and a class and see that class's activation map over the image
  (*class activation maps*).
* :func:`pooling_grid_explorer` — slide the pooling grid from 1×1 to the full map and see what the head receives,
  its parameter count and the measured accuracy in each regime (*the pooling family*).

Each returns an :class:`~flatgap.plotting.explorable.Explorable`; the last expression of a cell shows it. Nothing
is computed in the browser but the choice among the embedded states (and, for the translation figure, moving the
embedded image by whole pixels with zero fill, as :func:`flatgap.experiments.shift_images` does). Shapes are
channels-last: images (N, H, W, 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from flatgap.plotting.explorable import Explorable, element_id
from flatgap.plotting.static import HEAD_COLORS

WIDTH = 660  # px: within the book's text column at a 1280-px window (684 px)
GREYS = ["#ffffff", "#e0e0e0", "#bdbdbd", "#969696", "#737373", "#525252", "#252525", "#000000"]
# ColorBrewer RdBu (11), blue = low to red = high: the static CAM figures' colours.
RED_BLUE = ["#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d",
            "#b2182b", "#67001f"]


def _images(images, name: str = "images") -> np.ndarray:
    array = np.asarray(images, dtype=np.float64)
    if array.ndim != 4 or array.shape[-1] != 1 or 0 in array.shape:
        raise ValueError(f"{name} must have shape (N, H, W, 1), got {array.shape}")
    return array[..., 0]


def _labels(labels, n: int, name: str = "labels") -> list[int]:
    array = np.asarray(labels)
    if array.shape != (n,) or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must be {n} integer classes, one per image, got shape {array.shape}")
    return [int(v) for v in array]


def _pixels(height: int, width: int):
    """A ColumnDataSource of one square per pixel: row 0 at the top. Returns (source, the image's flat order)."""
    from bokeh.models import ColumnDataSource

    rows, cols = np.divmod(np.arange(height * width), width)
    return ColumnDataSource({"x": (cols + 0.5).tolist(), "y": (height - rows - 0.5).tolist(),
                             "value": [0.0] * (height * width)})


def _image_plot(height: int, width: int, title: str, size: int = 230):
    from bokeh.plotting import figure

    plot = figure(width=size, height=size, title=title, x_range=(0, width), y_range=(0, height), tools="",
                  toolbar_location=None, match_aspect=True)
    plot.axis.visible = False
    plot.grid.visible = False
    return plot


def _grey_squares(plot, source) -> None:
    from bokeh.models import LinearColorMapper

    mapper = LinearColorMapper(palette=GREYS, low=0.0, high=1.0)
    plot.rect("x", "y", 1, 1, source=source, line_color=None, fill_color={"field": "value", "transform": mapper})


def _slider_over(labels: Sequence[str], title: str, value: int = 0):
    """A slider over the positions 0..len(labels)-1 that shows each position's label."""
    from bokeh.models import CustomJSTickFormatter, Slider

    return Slider(start=0, end=len(labels) - 1, step=1, value=value, title=title, width=WIDTH - 40,
                  format=CustomJSTickFormatter(args={"labels": list(labels)}, code="return labels[tick];"))


# --- translation ------------------------------------------------------------------------------------------


def _translation_readout(index: int, label: int, dx: int, dy: int, names: Sequence[str], per_mille) -> str:
    """The sentence the translation figure shows; the same words as its JavaScript writes."""
    parts = []
    for name, p in zip(names, per_mille, strict=True):
        k = int(np.argmax(p))
        parts.append(f"{name} predicts {k} (p = {p[k] / 1000:.3f})")
    return f"Digit {index} (label {label}) shifted by dx = {dx:+d}, dy = {dy:+d} px: " + "; ".join(parts) + "."


def translation_explorer(images, labels, shifts, probabilities: Mapping[str, np.ndarray],
                         title: str = "shift a test digit and watch each head") -> Explorable:
    """Shift one of a few test digits by (dx, dy) pixels and see each head's class probabilities.

    Args:
        images: (D, H, W, 1) the test digits unshifted, values in [0, 1].
        labels: (D,) their true classes.
        shifts: (S,) the shifts tried along each axis, consecutive integers that include 0 (dx and dy take the same
            values; positive is right and down, the vacated pixels are zero, as in ``shift_images``).
        probabilities: head name -> (D, S, S, K) class probabilities; ``[d, i, j]`` is digit ``d`` shifted down by
            ``shifts[i]`` and right by ``shifts[j]``. Rows must sum to 1.

    Returns:
        The explorable figure. Its ``data`` holds ``per_mille`` (head -> the probabilities in thousandths, the
        embedded values) and ``readout(d, dx, dy)`` gives the sentence it shows in that state.
    """
    from bokeh.layouts import column, row
    from bokeh.models import ColumnDataSource, CustomJS, FactorRange, Select, Slider
    from bokeh.plotting import figure

    pixels = _images(images)
    d_count, height, width = pixels.shape
    labels = _labels(labels, d_count)
    shifts = [int(s) for s in np.asarray(shifts).ravel()]
    if 0 not in shifts or shifts != list(range(shifts[0], shifts[0] + len(shifts))):
        raise ValueError(f"shifts must be consecutive integers that include 0, got {shifts}")
    if not probabilities:
        raise ValueError("probabilities must name at least one head")
    names = list(probabilities)
    s_count = len(shifts)
    per_mille, classes = {}, None
    for name in names:
        p = np.asarray(probabilities[name], dtype=np.float64)
        if p.ndim != 4 or p.shape[:3] != (d_count, s_count, s_count):
            raise ValueError(f"probabilities[{name!r}] must have shape ({d_count}, {s_count}, {s_count}, K), got {p.shape}")
        if not np.allclose(p.sum(axis=-1), 1, atol=1e-3) or (p < 0).any():
            raise ValueError(f"probabilities[{name!r}] must be probabilities: each row non-negative, summing to 1")
        classes = p.shape[-1] if classes is None else classes
        if p.shape[-1] != classes:
            raise ValueError("every head must give probabilities over the same classes")
        per_mille[name] = np.rint(p * 1000).astype(int)
    zero = shifts.index(0)
    fid = element_id(title)

    def readout(d: int, dx: int, dy: int) -> str:
        i, j = shifts.index(dy), shifts.index(dx)
        return _translation_readout(d, labels[d], dx, dy, names, [per_mille[n][d, i, j] for n in names])

    image_source = _pixels(height, width)
    image_source.data["value"] = pixels[0].ravel().round(3).tolist()
    image_plot = _image_plot(height, width, f"the digit on its {height}×{width} canvas", size=225)
    _grey_squares(image_plot, image_source)

    factors = [(name, str(k)) for name in names for k in range(classes)]
    colours = [HEAD_COLORS.get(name.split(" ")[0].lower(), "#555555") for name in names]
    bar_colours = [colours[h] for h in range(len(names)) for _ in range(classes)]
    tops = [per_mille[n][0, zero, zero, k] / 1000 for n in names for k in range(classes)]
    bars = ColumnDataSource({"x": factors, "top": tops, "colour": bar_colours})
    bar_plot = figure(x_range=FactorRange(*factors), y_range=(0, 1), width=WIDTH - 235, height=230, tools="",
                      toolbar_location=None, title="class probabilities, per head (classes 0-9)")
    bar_plot.vbar(x="x", top="top", width=0.8, fill_color="colour", line_color=None, source=bars)
    bar_plot.xaxis.major_label_text_font_size = "7pt"
    bar_plot.xaxis.major_label_orientation = 0
    bar_plot.yaxis.axis_label = "probability"
    bar_plot.xgrid.visible = False

    digit = Select(title="test digit", value="0", width=200,
                   options=[(str(d), f"digit {d} (label {labels[d]})") for d in range(d_count)])
    dx_slider = Slider(start=shifts[0], end=shifts[-1], step=1, value=0, title="shift right dx (pixels)", width=300)
    dy_slider = Slider(start=shifts[0], end=shifts[-1], step=1, value=0, title="shift down dy (pixels)", width=300)
    callback = CustomJS(
        args={"digit": digit, "sx": dx_slider, "sy": dy_slider, "pixels": image_source, "bars": bars,
              "images": [p.ravel().round(3).tolist() for p in pixels], "labels": labels, "names": names,
              "probs": [per_mille[n].ravel().tolist() for n in names], "first": shifts[0], "S": s_count,
              "K": classes, "H": height, "W": width, "readout": f"{fid}-readout"},
        code="""
const d = Number(digit.value), dx = Math.round(sx.value), dy = Math.round(sy.value);
const image = images[d], value = new Array(H * W).fill(0);
for (let y = 0; y < H; y++) {
  for (let x = 0; x < W; x++) {
    const ys = y - dy, xs = x - dx;
    if (ys >= 0 && ys < H && xs >= 0 && xs < W) value[y * W + x] = image[ys * W + xs];
  }
}
pixels.data = Object.assign({}, pixels.data, {value: value});
const base = ((d * S + (dy - first)) * S + (dx - first)) * K, top = [], parts = [];
const sign = (v) => (v >= 0 ? "+" : "") + v;
for (let h = 0; h < names.length; h++) {
  let best = 0;
  for (let k = 0; k < K; k++) {
    const p = probs[h][base + k];
    top.push(p / 1000);
    if (p > probs[h][base + best]) best = k;
  }
  parts.push(names[h] + " predicts " + best + " (p = " + (probs[h][base + best] / 1000).toFixed(3) + ")");
}
bars.data = Object.assign({}, bars.data, {top: top});
document.getElementById(readout).textContent = "Digit " + d + " (label " + labels[d] + ") shifted by dx = " +
  sign(dx) + ", dy = " + sign(dy) + " px: " + parts.join("; ") + ".";
""")
    for widget, attribute in ((digit, "value"), (dx_slider, "value"), (dy_slider, "value")):
        widget.js_on_change(attribute, callback)
    layout = column(row(digit, column(dx_slider, dy_slider)), row(image_plot, bar_plot))
    description = (f"Choose one of {d_count} test digits and move the two sliders (arrow keys once a slider is "
                   f"focused) to shift it by {shifts[0]} to {shifts[-1]} pixels right (dx) and down (dy) on its "
                   f"{height}×{width} canvas. The left panel shows the shifted digit, the right panel each head's "
                   f"probabilities for the ten classes ({', '.join(names)}: one trained model each, seed 0), and the "
                   "line below names each head's prediction.")
    figure_ = Explorable(fid, layout, title, description, readout(0, 0, 0),
                         {"per_mille": per_mille, "shifts": shifts, "labels": labels, "names": names})
    figure_.data["readout"] = readout
    return figure_


# --- training-set size -------------------------------------------------------------------------------------


def training_size_explorer(sizes: Sequence[int], bodies: Sequence[str], panels: Mapping[str, tuple],
                           title: str = "shrink the training set") -> Explorable:
    """Pick a training-set size and see the paired differences of two heads: each seed's and the interval.

    Args:
        sizes: the training-set sizes, increasing.
        bodies: the bodies compared (one column of points each).
        panels: panel title (what is compared, e.g. "test accuracy, Flatten minus GAP") ->
            ``(differences, intervals)``: ``differences[body, size]`` the per-seed paired differences (fractions)
            and ``intervals[body, size]`` their :class:`~flatgap.experiments.stats.Interval`.

    Returns:
        The explorable figure; ``data["readouts"]`` holds the sentence shown at each size.
    """
    from bokeh.layouts import column, row
    from bokeh.models import ColumnDataSource, CustomJS, Span, Whisker
    from bokeh.plotting import figure

    sizes = [int(s) for s in sizes]
    bodies = list(bodies)
    if not sizes or sizes != sorted(set(sizes)):
        raise ValueError(f"sizes must be distinct and increasing, got {sizes}")
    if not bodies or not panels:
        raise ValueError("training_size_explorer needs at least one body and one panel")
    states, readouts = {}, []
    for panel, (differences, intervals) in panels.items():
        for body in bodies:
            for size in sizes:
                if (body, size) not in differences or (body, size) not in intervals:
                    raise ValueError(f"panel {panel!r} has no differences or interval for {(body, size)}")
                states[panel, body, size] = (np.asarray(differences[body, size], dtype=np.float64) * 100,
                                             intervals[body, size])
    for size in sizes:
        parts = [f"{body} body: " + "; ".join(f"{panel} {states[panel, body, size][1].text()}" for panel in panels)
                 for body in bodies]
        readouts.append(f"n = {size} training images. " + " ".join(p + "." for p in parts))
    fid = element_id(title)
    plots, sources, data = [], [], {}
    jitter = np.linspace(-0.15, 0.15, max(len(v[0]) for v in states.values()))
    for panel in panels:
        values = np.concatenate([np.r_[v[0], v[1].low * 100, v[1].high * 100] for (p, _, _), v in states.items()
                                 if p == panel])
        pad = 0.1 * (values.max() - values.min() + 1)
        points, bars = [], []
        for size in sizes:
            xs, ys, bx, low, mean, high = [], [], [], [], [], []
            for b, body in enumerate(bodies):
                seeds, iv = states[panel, body, size]
                xs += (b + 0.5 + jitter[: len(seeds)]).tolist()
                ys += seeds.round(2).tolist()
                bx.append(b + 0.5)
                low.append(round(iv.low * 100, 2))
                mean.append(round(iv.mean * 100, 2))
                high.append(round(iv.high * 100, 2))
            points.append({"x": xs, "y": ys})
            bars.append({"x": bx, "low": low, "mean": mean, "high": high})
        data[panel] = {"points": points, "intervals": bars}
        point_source, bar_source = ColumnDataSource(points[0]), ColumnDataSource(bars[0])
        plot = figure(width=(WIDTH - 20) // len(panels), height=300, x_range=(0, len(bodies)),
                      y_range=(min(values.min() - pad, -1), max(values.max() + pad, 1)), tools="",
                      toolbar_location=None, title=panel)
        plot.add_layout(Span(location=0, dimension="width", line_color="#d62728", line_width=1))
        plot.scatter("x", "y", source=point_source, size=7, color="#555555", alpha=0.7)
        plot.add_layout(Whisker(source=bar_source, base="x", lower="low", upper="high", line_width=2))
        plot.scatter("x", "mean", source=bar_source, size=11, marker="diamond", color="black")
        plot.xaxis.ticker = [b + 0.5 for b in range(len(bodies))]
        plot.xaxis.major_label_overrides = {b + 0.5: f"{body} body" for b, body in enumerate(bodies)}
        plot.yaxis.axis_label = "paired difference (points)"
        plot.xgrid.visible = False
        plots.append(plot)
        sources.append((point_source, bar_source))
    slider = _slider_over([f"{s} images" for s in sizes], "training-set size")
    slider.js_on_change("value", CustomJS(
        args={"sources": [list(pair) for pair in sources], "states": [[data[p]["points"], data[p]["intervals"]]
                                                                      for p in panels],
              "readouts": readouts, "readout": f"{fid}-readout"},
        code="""
const i = Math.round(cb_obj.value);
for (let p = 0; p < sources.length; p++) {
  sources[p][0].data = Object.assign({}, states[p][0][i]);
  sources[p][1].data = Object.assign({}, states[p][1][i]);
}
document.getElementById(readout).textContent = readouts[i];
"""))
    layout = column(slider, row(*plots))
    description = (f"Move the slider (arrow keys once it is focused) over the training-set sizes {sizes}. Each "
                   f"panel shows, for the {' and the '.join(bodies)} body, the paired difference of every seed "
                   "(grey dots) and its mean with the interval the chapter printed for it (black); the red line is zero. The "
                   "line below gives the intervals in words.")
    return Explorable(fid, layout, title, description, readouts[0], {"readouts": readouts, "states": data,
                                                                     "sizes": sizes})


# --- class activation maps ---------------------------------------------------------------------------------


def _peak(cam: np.ndarray, height: int, width: int) -> tuple[float, float]:
    h, w = cam.shape
    r, c = divmod(int(cam.argmax()), w)
    cell_h, cell_w = height // h, width // w
    return r * cell_h + (cell_h - 1) / 2, c * cell_w + (cell_w - 1) / 2


def cam_explorer(images, labels, boxes, cams, probabilities, title: str = "where is the evidence for a class?") -> Explorable:
    """Pick an image and a class and see the class activation map over the image.

    Args:
        images: (N, H, W, 1) canvases, values in [0, 1].
        labels: (N,) true classes.
        boxes: (N, 4) the digit's box per canvas (top, left, bottom, right), bottom and right exclusive.
        cams: (N, K, h, w) the map of every class for every image; ``H`` and ``W`` are multiples of ``h`` and ``w``.
        probabilities: (N, K) the model's class probabilities.

    Returns:
        The explorable figure; ``data["readouts"][i][c]`` is the sentence shown for image ``i`` and class ``c``.
    """
    from bokeh.layouts import column, row
    from bokeh.models import ColumnDataSource, CustomJS, LinearColorMapper, Select

    pixels = _images(images)
    n, height, width = pixels.shape
    labels = _labels(labels, n)
    boxes = np.asarray(boxes)
    cams = np.asarray(cams, dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if boxes.shape != (n, 4):
        raise ValueError(f"boxes must have shape ({n}, 4), got {boxes.shape}")
    if cams.ndim != 4 or cams.shape[0] != n or height % cams.shape[2] or width % cams.shape[3]:
        raise ValueError(f"cams must have shape ({n}, K, h, w) with h dividing {height} and w dividing {width}, "
                         f"got {cams.shape}")
    k_count, h, w = cams.shape[1:]
    if probabilities.shape != (n, k_count):
        raise ValueError(f"probabilities must have shape ({n}, {k_count}), got {probabilities.shape}")
    predicted = probabilities.argmax(axis=1)
    cams = cams.round(4)  # the embedded values: the readouts and the drawn peak use the same ones
    readouts = []
    for i in range(n):
        top, left, bottom, right = (int(v) for v in boxes[i])
        rows = []
        for c in range(k_count):
            r, col = _peak(cams[i, c], height, width)
            where = "inside" if top <= r < bottom and left <= col < right else "outside"
            rows.append(f"Image {i} (label {labels[i]}): the model predicts {predicted[i]} with probability "
                        f"{probabilities[i, predicted[i]]:.3f}. Map of class {c}: peak at row {r:g}, column {col:g} of "
                        f"the canvas, {where} the digit's box; values from {cams[i, c].min():.2f} to "
                        f"{cams[i, c].max():.2f}.")
        readouts.append(rows)
    fid = element_id(title)
    image_source = _pixels(height, width)
    image_source.data["value"] = pixels[0].ravel().round(3).tolist()
    cell_h, cell_w = height // h, width // w
    r_idx, c_idx = np.divmod(np.arange(h * w), w)
    cam_values = cams
    first = int(predicted[0])
    cam_source = ColumnDataSource({"x": (c_idx * cell_w + cell_w / 2).tolist(),
                                   "y": (height - r_idx * cell_h - cell_h / 2).tolist(),
                                   "value": cam_values[0, first].ravel().tolist()})
    mapper = LinearColorMapper(palette=RED_BLUE, low=float(cam_values[0, first].min()),
                               high=float(cam_values[0, first].max()))
    box_source = ColumnDataSource(_box_data(boxes[0], height))
    peak_source = ColumnDataSource(_peak_data(cams[0, first], height, width))
    plot = _image_plot(height, width, "class activation map over the canvas", size=320)
    _grey_squares(plot, image_source)
    plot.rect("x", "y", cell_w, cell_h, source=cam_source, line_color=None, fill_alpha=0.55,
              fill_color={"field": "value", "transform": mapper})
    plot.quad(left="left", right="right", top="top", bottom="bottom", source=box_source, fill_color=None,
              line_color="#d62728", line_width=2)
    plot.scatter("x", "y", source=peak_source, marker="x", size=16, line_width=3, color="black")
    image_select = Select(title="test canvas", value="0", width=220,
                          options=[(str(i), f"canvas {i} (label {labels[i]})") for i in range(n)])
    class_select = Select(title="class of the map", value=str(first), width=220,
                          options=[(str(c), f"class {c}") for c in range(k_count)])
    args = {"image_select": image_select, "class_select": class_select, "pixels": image_source, "cam": cam_source,
            "mapper": mapper, "box": box_source, "peak": peak_source, "readouts": readouts,
            "images": [p.ravel().round(3).tolist() for p in pixels], "cams": cam_values.reshape(n, k_count, -1).tolist(),
            "boxes": boxes.astype(int).tolist(), "predicted": predicted.tolist(), "H": height, "W": width, "w": w,
            "cell_h": cell_h, "cell_w": cell_w, "readout": f"{fid}-readout"}
    show = """
const i = Number(image_select.value), c = Number(class_select.value), values = cams[i][c];
pixels.data = Object.assign({}, pixels.data, {value: images[i]});
cam.data = Object.assign({}, cam.data, {value: values});
mapper.low = Math.min(...values);
mapper.high = Math.max(...values);
const [top, left, bottom, right] = boxes[i];
box.data = {left: [left], right: [right], top: [H - top], bottom: [H - bottom]};
const best = values.indexOf(Math.max(...values)), r = Math.floor(best / w), col = best % w;
peak.data = {x: [col * cell_w + cell_w / 2], y: [H - r * cell_h - cell_h / 2]};
document.getElementById(readout).textContent = readouts[i][c];
"""
    class_select.js_on_change("value", CustomJS(args=args, code=show))
    image_select.js_on_change("value", CustomJS(args=args, code="""
const picked = Number(image_select.value);
if (class_select.value !== String(predicted[picked])) { class_select.value = String(predicted[picked]); return; }
{""" + show + "}"))
    layout = row(column(image_select, class_select), plot)
    description = (f"Choose one of {n} test canvases and a class. The map of that class (red high, blue low, over "
                   f"{h}×{w} cells of {cell_h}×{cell_w} pixels) is drawn over the {height}×{width} canvas, with the "
                   "digit's box in red and the map's peak as a black cross; choosing a canvas first shows the map of "
                   "the class the model predicts. The line below gives the prediction, its probability and where "
                   "the peak lies.")
    return Explorable(fid, layout, title, description, readouts[0][first],
                      {"readouts": readouts, "cams": cam_values, "predicted": predicted.tolist()})


def _box_data(box, height: int) -> dict:
    top, left, bottom, right = (int(v) for v in box)
    return {"left": [left], "right": [right], "top": [height - top], "bottom": [height - bottom]}


def _peak_data(cam: np.ndarray, height: int, width: int) -> dict:
    r, c = _peak(cam, height, width)
    return {"x": [c + 0.5], "y": [height - r - 0.5]}


# --- the pooling family ------------------------------------------------------------------------------------


def pooling_grid_explorer(image, grids: Sequence[int], received: Mapping[int, np.ndarray], params: Mapping[int, int],
                          accuracy: Mapping[str, Mapping[int, object]],
                          title: str = "slide the pooling grid from 1×1 to the full map") -> Explorable:
    """Slide the grid size k and see what the head receives, its parameter count and its accuracy in each regime.

    Args:
        image: (H, W, 1) one test canvas.
        grids: the grid sizes k, increasing (k = 1 is GAP; k equal to the map's side is Flatten).
        received: k -> (k, k) what the head of the k model receives for ``image``: the k×k averages of its body's
            last maps, averaged over the channels.
        params: k -> the head's Dense parameter count.
        accuracy: regime name -> (k -> :class:`~flatgap.experiments.stats.Interval` of the test accuracy over
            seeds, as fractions, or ``None`` where that regime has no model with this k).

    Returns:
        The explorable figure; ``data["readouts"][i]`` is the sentence shown at ``grids[i]``.
    """
    from bokeh.layouts import column, row
    from bokeh.models import ColumnDataSource, CustomJS, FactorRange, LinearColorMapper, Whisker
    from bokeh.plotting import figure

    canvas = _images(np.asarray(image)[None], "image")[0]
    height, width = canvas.shape
    grids = [int(k) for k in grids]
    if not grids or grids != sorted(set(grids)) or grids[0] < 1:
        raise ValueError(f"grids must be distinct positive integers, increasing, got {grids}")
    for k in grids:
        if np.asarray(received.get(k)).shape != (k, k):
            raise ValueError(f"received[{k}] must have shape ({k}, {k}), got {np.asarray(received.get(k)).shape}")
        if k not in params:
            raise ValueError(f"params has no count for k = {k}")
    regimes = list(accuracy)
    readouts = []
    for k in grids:
        parts = []
        for regime in regimes:
            iv = accuracy[regime].get(k)
            parts.append(f"{regime}: " + ("no model with this grid" if iv is None else
                                          f"{iv.mean:.3f} [{iv.low:.3f}, {iv.high:.3f}]"))
        readouts.append(f"k = {k}: the head receives {k}×{k} averages of each channel; Dense parameters "
                        f"{params[k]:,}. Test accuracy (mean of seeds, 95% interval): " + "; ".join(parts) + ".")
    fid = element_id(title)
    pixel_source = _pixels(height, width)
    pixel_source.data["value"] = canvas.ravel().round(3).tolist()
    image_plot = _image_plot(height, width, "the canvas and the k×k windows", size=210)
    _grey_squares(image_plot, pixel_source)

    def lines(k: int) -> dict:
        edges = [height * i / k for i in range(1, k)]
        return {"xs": [[e, e] for e in edges] + [[0, width] for _ in edges],
                "ys": [[0, height] for _ in edges] + [[height - e, height - e] for e in edges]}

    grid_source = ColumnDataSource(lines(grids[0]))
    image_plot.multi_line("xs", "ys", source=grid_source, line_color="#1f77b4", line_width=2)

    def cells(k: int) -> dict:
        r, c = np.divmod(np.arange(k * k), k)
        return {"x": ((c + 0.5) / k).tolist(), "y": (1 - (r + 0.5) / k).tolist(), "size": [1 / k] * (k * k),
                "value": np.asarray(received[k], dtype=np.float64).ravel().round(4).tolist()}

    states_cells = [cells(k) for k in grids]
    all_values = np.concatenate([np.ravel(received[k]) for k in grids])
    mapper = LinearColorMapper(palette="Viridis256", low=float(all_values.min()), high=float(all_values.max()))
    cell_source = ColumnDataSource(states_cells[0])
    cell_plot = figure(width=210, height=210, x_range=(0, 1), y_range=(0, 1), tools="", toolbar_location=None,
                       title="what the head receives")
    cell_plot.rect("x", "y", "size", "size", source=cell_source, line_color="white",
                   fill_color={"field": "value", "transform": mapper})
    cell_plot.axis.visible = False
    cell_plot.grid.visible = False

    def bars(k: int) -> dict:
        out = {"x": regimes, "mean": [], "low": [], "high": []}
        for regime in regimes:
            iv = accuracy[regime].get(k)
            out["mean"].append(float("nan") if iv is None else round(iv.mean, 4))
            out["low"].append(float("nan") if iv is None else round(iv.low, 4))
            out["high"].append(float("nan") if iv is None else round(iv.high, 4))
        return out

    states_bars = [bars(k) for k in grids]
    bar_source = ColumnDataSource(states_bars[0])
    bar_plot = figure(x_range=FactorRange(*regimes), y_range=(0, 1), width=WIDTH - 430, height=210, tools="",
                      toolbar_location=None, title="test accuracy")
    bar_plot.vbar(x="x", top="mean", width=0.6, source=bar_source, fill_color="#7f7f7f", line_color=None)
    bar_plot.add_layout(Whisker(source=bar_source, base="x", lower="low", upper="high", line_width=2))
    bar_plot.xaxis.major_label_text_font_size = "7pt"
    bar_plot.xgrid.visible = False
    slider = _slider_over([f"k = {k}" for k in grids], "pooling grid k×k")
    slider.js_on_change("value", CustomJS(
        args={"grid": grid_source, "cells": cell_source, "bars": bar_source, "lines": [lines(k) for k in grids],
              "cell_states": states_cells, "bar_states": states_bars, "readouts": readouts,
              "readout": f"{fid}-readout"},
        code="""
const i = Math.round(cb_obj.value);
grid.data = Object.assign({}, lines[i]);
cells.data = Object.assign({}, cell_states[i]);
bars.data = Object.assign({}, bar_states[i]);
document.getElementById(readout).textContent = readouts[i];
"""))
    layout = column(slider, row(image_plot, cell_plot, bar_plot))
    description = (f"Move the slider (arrow keys once it is focused) over the grid sizes {grids}. The left panel "
                   "draws the k×k pooling windows over a test canvas; the middle one shows what the head receives "
                   "from them (the k×k averages, shown as the mean over channels); the right one the measured test "
                   "accuracy of the models with that grid in each regime (mean of seeds with a 95% interval). The "
                   "line below gives the parameter count and the accuracies in words.")
    return Explorable(fid, layout, title, description, readouts[0],
                      {"readouts": readouts, "cells": states_cells, "bars": states_bars, "grids": grids})
