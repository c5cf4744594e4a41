"""The dashboard's SVG geometry: capacity bars and the sales chart."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import translation

from capacity.charts import CHART_WIDTH, capacity_bar, draw_sales_chart


def test_capacity_bar_segments_add_up_and_mark_the_cap():
    bar = capacity_bar(capacity=100, sold=50, held=10, blocked=5)
    assert [s.kind for s in bar.segments] == ["sold", "held", "blocked", "remaining"]
    assert sum(s.width for s in bar.segments) == pytest.approx(100)
    assert bar.capacity_mark is None
    over = capacity_bar(capacity=100, sold=120, held=0, blocked=0)
    assert over.capacity_mark == pytest.approx(100 * 100 / 120, abs=0.01)
    assert capacity_bar(capacity=None, sold=5, held=0, blocked=0) is None


def test_the_chart_scales_bars_to_the_busiest_bucket_and_labels_every_third_hour():
    start = datetime(2030, 5, 1, tzinfo=UTC)
    starts = [start + timedelta(hours=n) for n in range(24)]
    counts = [(0, 0)] * 22 + [(2, 1), (4, 2)]

    chart = draw_sales_chart("hour", starts, counts)

    assert (chart.peak, chart.total) == (6, 9)
    busiest, before = chart.bars[-1], chart.bars[-2]
    # Held seats are stacked on top of the sold ones; the busiest bar fills the plot.
    assert busiest.held_y == 0
    assert busiest.held_y + busiest.held_height == pytest.approx(busiest.sold_y, abs=0.01)
    assert busiest.sold_y + busiest.sold_height == pytest.approx(chart.plot_height)
    assert before.sold_height + before.held_height == pytest.approx(chart.plot_height / 2, abs=0.01)
    assert [bar.show_label for bar in chart.bars[-4:]] == [True, False, False, True]
    assert all(0 <= bar.x and bar.x + bar.width <= CHART_WIDTH for bar in chart.bars)
    assert chart.bars[0].label == "00:00"


def test_a_chart_without_sales_is_flat_and_days_are_labelled_by_date():
    start = datetime(2030, 5, 1, tzinfo=UTC)
    starts = [start + timedelta(days=n) for n in range(14)]

    chart = draw_sales_chart("day", starts, [(0, 0)] * 14)

    assert chart.peak == 0
    assert all(bar.sold_height == bar.held_height == 0 for bar in chart.bars)
    assert chart.bars[-1].label == "14 May"
    assert [bar.show_label for bar in chart.bars[-3:]] == [True, False, True]


def test_the_bars_are_drawn_as_svg_with_their_figures_and_a_translated_tooltip():
    start = datetime(2030, 5, 1, tzinfo=UTC)
    starts = [start + timedelta(hours=n) for n in range(24)]
    chart = draw_sales_chart("hour", starts, [(0, 0)] * 22 + [(3, 0), (0, 2)])

    with translation.override("de"):
        svg = str(chart.bars_svg)

    groups = re.findall(r"<g class=\"chart-bar\"[^>]*>.*?</g>", svg)
    assert len(groups) == 24
    sold_only, held_only = groups[-2], groups[-1]
    assert 'data-start="2030-05-01T22:00:00+00:00" data-sold="3" data-held="0"' in sold_only
    assert "<title>22:00: 3 verkauft, 0 reserviert</title>" in sold_only
    # A segment is drawn only for seats there are; the label only where it is due.
    assert 'class="seg-sold"' in sold_only and 'class="seg-held"' not in sold_only
    assert 'class="seg-held"' in held_only and 'class="seg-sold"' not in held_only
    assert "chart-label" in held_only and "chart-label" not in sold_only
    bar = chart.bars[-1]
    geometry = f'x="{bar.x}" y="{bar.held_y}" width="{bar.width}" height="{bar.held_height}"'
    assert geometry in held_only


def test_a_bars_label_is_escaped():
    start = datetime(2030, 5, 1, tzinfo=UTC)
    chart = draw_sales_chart("hour", [start], [(1, 0)])
    object.__setattr__(chart.bars[0], "label", "<b>")

    svg = str(chart.bars_svg)

    assert "<b>" not in svg and "&lt;b&gt;" in svg
