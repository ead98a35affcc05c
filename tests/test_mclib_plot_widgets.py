import ipywidgets as widgets
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mclib import plot, widgets as mcw  # noqa: E402


def test_curves_tradeoff_histogram_draw():
    ax = plot.curves([1, 2, 3], {"a": [1, 2, 3], "b": [3, 2, 1]}, "x", "y", logx=True)
    assert len(ax.lines) == 2 and ax.get_xscale() == "log"
    ax = plot.tradeoff({"dense": (100, 97.0), "pruned": (10, 96.5)})
    assert len(ax.collections) == 2
    ax = plot.histogram_with_markers(np.random.default_rng(0).normal(size=100), {"c": [0.0, 1.0]})
    assert len(ax.lines) == 2
    plt.close("all")


def test_plot_errors_name_the_problem():
    with pytest.raises(ValueError, match="series 'a' has 2 values but x has 3"):
        plot.curves([1, 2, 3], {"a": [1, 2]}, "x", "y")
    with pytest.raises(ValueError, match="at least one"):
        plot.curves([1], {}, "x", "y")
    with pytest.raises(ValueError, match="at least one value"):
        plot.histogram_with_markers([])


def test_explorer_redraws_on_slider_change():
    seen = []
    box = mcw.explorer(lambda fig, bits: seen.append(bits), bits=widgets.IntSlider(value=2, min=1, max=8))
    assert seen == [2]
    box.children[0].value = 5
    assert seen == [2, 5]
    plt.close("all")


def test_explorer_rejects_bad_controls():
    with pytest.raises(ValueError, match="at least one control"):
        mcw.explorer(lambda fig: None)
    with pytest.raises(TypeError, match="value widget"):
        mcw.explorer(lambda fig, x: None, x=3)
