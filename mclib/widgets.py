"""Interactive explorers built from ipywidgets sliders and a matplotlib figure.

``explorer(draw, bits=IntSlider(...))`` calls ``draw(fig, **values)`` on a cleared figure each time a
slider moves. The explorer is a widget box (sliders above, the figure below), so it renders in
JupyterLab and can be driven from code by setting a slider's ``value``.
"""
from __future__ import annotations

from typing import Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt

__all__ = ["explorer"]


def explorer(draw: Callable, figsize=(7, 3.5), **controls: widgets.ValueWidget) -> widgets.VBox:
    """A VBox of ``controls`` and an Output that shows ``draw(fig, **control values)``."""
    if not controls:
        raise ValueError("explorer needs at least one control, e.g. bits=IntSlider(...)")
    for name, control in controls.items():
        if not isinstance(control, widgets.ValueWidget):
            raise TypeError(f"control {name!r} must be an ipywidgets value widget, "
                            f"got {type(control).__name__}")
    out = widgets.Output()

    def redraw(_change=None):
        with out:
            out.clear_output(wait=True)
            fig = plt.figure(figsize=figsize)
            draw(fig, **{name: c.value for name, c in controls.items()})
            plt.show()

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([*controls.values(), out])
    box.redraw = redraw  # lets tests and lessons redraw on demand
    return box
