"""Benchmark plots: array utilization against matrix size, and a roofline.

matplotlib is imported inside the functions (with the non-interactive ``Agg`` backend), so
importing :mod:`openmxu` never imports it.

Both functions take ``runs``, a list of dicts with the keys ``m``, ``k``, ``n`` (the matmul
is ``(m x k) @ (k x n)``), ``rows``, ``cols``, ``channels``, ``preset`` (the configuration),
``cycles`` (measured), ``utilization`` (measured, 0..1) and ``model_cycles`` (the
performance model's prediction); the roofline also needs ``bytes`` (bytes read + written).
"""

from pathlib import Path

__all__ = ["plot_utilization", "plot_roofline"]

_RUN_KEYS = ("m", "k", "n", "rows", "cols", "channels", "preset", "cycles", "utilization",
             "model_cycles")
_DPI = 120


def _check_runs(runs, extra=()):
    if not runs:
        raise ValueError("runs is empty: there is nothing to plot")
    for i, run in enumerate(runs):
        missing = [key for key in _RUN_KEYS + tuple(extra) if key not in run]
        if missing:
            raise ValueError(f"runs[{i}] lacks {', '.join(missing)}")
        for key in ("cycles", "model_cycles") + tuple(extra):
            if not run[key] > 0:
                raise ValueError(f"runs[{i}][{key!r}] must be positive, not {run[key]!r}")


def _groups(runs):
    """Runs by configuration ``(rows, cols, channels, preset)``, each sorted by m*k*n."""
    groups = {}
    for run in runs:
        key = (run["rows"], run["cols"], run["channels"], run["preset"])
        groups.setdefault(key, []).append(run)
    return {key: sorted(group, key=_macs) for key, group in groups.items()}


def _macs(run):
    return run["m"] * run["k"] * run["n"]


def _label(key):
    rows, cols, channels, preset = key
    return f"{rows}x{cols}, {channels} ch, {preset}"


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, plt, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return path


def plot_utilization(runs, path):
    """Utilization (0..1, y axis, 0 to 1.05) against matrix size (x axis: MACs m*k*n, log scale),
    measured points (marker) and the model's prediction (model_cycles converted to utilization:
    utilization * cycles / model_cycles) as a second series; one series pair per (rows, cols,
    channels, preset).

    Writes a PNG at ``path`` (parent folders are created) and returns it as a
    :class:`~pathlib.Path`. Raises ValueError for an empty ``runs``, a run lacking a key, or
    non-positive ``cycles`` or ``model_cycles``.
    """
    _check_runs(runs)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for index, (key, group) in enumerate(_groups(runs).items()):
        color = f"C{index % 10}"
        macs = [_macs(run) for run in group]
        measured = [run["utilization"] for run in group]
        model = [run["utilization"] * run["cycles"] / run["model_cycles"] for run in group]
        ax.plot(macs, measured, "o", color=color, label=f"{_label(key)}: measured")
        ax.plot(macs, model, "x--", color=color, label=f"{_label(key)}: model")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("matrix size m*k*n (MACs)")
    ax.set_ylabel("utilization (fraction of peak MACs per cycle)")
    ax.set_title("Array utilization against matrix size: measured and model")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, plt, path)


def plot_roofline(runs, path, *, peak_macs_per_cycle, peak_bytes_per_cycle):
    """Roofline: x = arithmetic intensity in MACs per byte moved (m*k*n / bytes), log scale;
    y = achieved MACs per cycle (m*k*n / cycles), log scale; the roof min(peak_macs_per_cycle,
    peak_bytes_per_cycle * intensity) as a line, the ridge point marked, measured points labelled
    m x k x n.

    The ridge point is at intensity ``peak_macs_per_cycle / peak_bytes_per_cycle``. Points are
    coloured by configuration (rows, cols, channels, preset). Writes a PNG at ``path`` (parent
    folders are created) and returns it as a :class:`~pathlib.Path`. Raises ValueError for an
    empty ``runs``, a run lacking a key, non-positive ``cycles``, ``model_cycles`` or ``bytes``,
    or non-positive peaks.
    """
    for name, value in (("peak_macs_per_cycle", peak_macs_per_cycle),
                        ("peak_bytes_per_cycle", peak_bytes_per_cycle)):
        if not value > 0:
            raise ValueError(f"{name} must be positive, not {value!r}")
    _check_runs(runs, extra=("bytes",))
    import numpy as np
    plt = _pyplot()
    ridge = peak_macs_per_cycle / peak_bytes_per_cycle
    intensities = [_macs(run) / run["bytes"] for run in runs]
    low, high = min(min(intensities), ridge) / 4, max(max(intensities), ridge) * 4
    x = np.geomspace(low, high, 256)
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(x, np.minimum(peak_macs_per_cycle, peak_bytes_per_cycle * x), "k-",
            label=f"roof: {peak_macs_per_cycle:g} MACs/cycle, {peak_bytes_per_cycle:g} B/cycle")
    ax.plot([ridge], [peak_macs_per_cycle], "kD",
            label=f"ridge point: {ridge:.3g} MACs/byte")
    for index, (key, group) in enumerate(_groups(runs).items()):
        xs = [_macs(run) / run["bytes"] for run in group]
        ys = [_macs(run) / run["cycles"] for run in group]
        ax.plot(xs, ys, "o", color=f"C{index % 10}", label=_label(key))
        for run, xi, yi in zip(group, xs, ys):
            ax.annotate(f"{run['m']}x{run['k']}x{run['n']}", (xi, yi), xytext=(4, 4),
                        textcoords="offset points", fontsize="x-small")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(low, high)
    ax.set_ylim(top=2 * peak_macs_per_cycle)  # keep the flat roof off the frame
    ax.set_xlabel("arithmetic intensity (MACs per byte moved)")
    ax.set_ylabel("achieved throughput (MACs per cycle)")
    ax.set_title("Roofline: achieved MACs per cycle against arithmetic intensity")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, plt, path)
