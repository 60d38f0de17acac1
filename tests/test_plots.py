"""The benchmark plots write real PNG files."""

import pytest

pytest.importorskip("matplotlib")

from openmxu.plots import plot_roofline, plot_utilization  # noqa: E402


def _runs():
    runs = []
    for rows, cols, preset in ((4, 4, "small"), (8, 8, "large")):
        for size in (4, 16, 64):
            macs = size ** 3
            cycles = macs // (rows * cols) + 3 * (rows + cols) + size
            runs.append(dict(m=size, k=size, n=size, rows=rows, cols=cols, channels=1,
                             preset=preset, cycles=cycles,
                             utilization=macs / (rows * cols * cycles),
                             model_cycles=int(cycles * 0.95), bytes=4 * size * size + size * size))
    return runs


def _assert_png(path):
    data = path.read_bytes()
    assert data[:4] == b"\x89PNG" and len(data) > 10_000


def test_utilization_plot_writes_a_png(tmp_path):
    path = plot_utilization(_runs(), tmp_path / "out" / "utilization.png")
    assert path == tmp_path / "out" / "utilization.png"
    _assert_png(path)


def test_roofline_plot_writes_a_png(tmp_path):
    path = plot_roofline(_runs(), tmp_path / "out" / "roofline.png",
                         peak_macs_per_cycle=64, peak_bytes_per_cycle=16)
    _assert_png(path)


def test_empty_runs_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="runs is empty"):
        plot_utilization([], tmp_path / "u.png")
    with pytest.raises(ValueError, match="runs is empty"):
        plot_roofline([], tmp_path / "r.png", peak_macs_per_cycle=1, peak_bytes_per_cycle=1)
    assert not list(tmp_path.iterdir())
