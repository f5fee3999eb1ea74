"""A click on the CNN's blocks diagram opens that channel in the inspector (#36 item 3): one dot per channel under
each block's stack carries (block, channel), and picked_channel reads Streamlit's selection points back to them.
AppTest cannot click a chart; tests/browser/test_cnn_views.py clicks one in Chromium."""

from __future__ import annotations

import numpy as np

from ui.inspect.conv_charts import blocks_figure, picked_channel


def block(name: str, channels: int, side: int, dead: list[int] = ()) -> dict:
    off = np.zeros(channels, dtype=bool)
    off[list(dead)] = True
    return {"name": name, "shape": (channels, side, side), "dead": off}


BLOCKS = [block("conv 1", 4, 14, dead=[2]), block("conv 2", 64, 7), block("conv 3", 256, 3, dead=[0, 255])]


def dots(fig):
    (trace,) = [t for t in fig.data if t.customdata is not None and len(t.customdata) > len(BLOCKS)]
    return trace


def test_every_channel_of_every_block_has_its_own_dot_under_its_stack():
    fig = blocks_figure(BLOCKS, 256 * 9)
    trace = dots(fig)
    custom = [tuple(c) for c in trace.customdata]
    assert custom == [(b, c) for b, bl in enumerate(BLOCKS) for c in range(bl["shape"][0])]
    x, y = np.asarray(trace.x), np.asarray(trace.y)
    assert len(set(zip(x.round(6), y.round(6)))) == len(custom)  # no two dots on one place
    # each block's dots sit apart from the next block's, in the block order, and under the stacks' labels
    spans = [(x[[b == k for b, _c in custom]].min(), x[[b == k for b, _c in custom]].max()) for k in range(3)]
    assert spans[0][1] < spans[1][0] and spans[1][1] < spans[2][0]
    assert y.max() < -2.3 and fig.layout.yaxis.range[0] < y.min()
    colours = list(trace.marker.color)
    assert [colours[custom.index(p)] for p in [(0, 2), (2, 0), (2, 255)]] == ["#dc2626"] * 3
    assert colours[custom.index((1, 5))] == "#4f46e5"
    assert "convolution 2, channel 5" in trace.hovertext[custom.index((1, 5))]


def test_a_click_maps_to_its_block_and_channel():
    fig = blocks_figure(BLOCKS, 256 * 9)
    trace = dots(fig)
    at = [tuple(c) for c in trace.customdata].index((1, 37))
    # what Streamlit hands back for a click on that dot: the point with its customdata
    point = {"curve_number": list(fig.data).index(trace), "point_index": at, "x": trace.x[at], "y": trace.y[at],
             "customdata": list(trace.customdata[at])}
    assert picked_channel([point]) == (1, 37)
    stack = {"curve_number": 0, "point_index": 2, "customdata": [2, None]}  # the invisible marker over a stack
    assert picked_channel([stack]) == (2, None)
    assert picked_channel([]) is None and picked_channel([{"point_index": 0}]) is None
    assert picked_channel([stack, point]) == (1, 37)  # the last point picked wins
