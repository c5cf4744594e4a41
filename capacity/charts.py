"""The shapes of the dashboard's SVG: capacity bars and the sales chart, in
percent of a bar's width or in the chart's viewBox units.

Pure geometry from numbers already counted (``capacity.dashboard`` reads them);
nothing here queries.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from django.utils.dateformat import format as format_date
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

# Geometry of the sales chart's SVG viewBox.
CHART_WIDTH = 480
CHART_HEIGHT = 200
CHART_LABEL_BAND = 22


# --- bars -------------------------------------------------------------------------


@dataclass(frozen=True)
class BarSegment:
    """One coloured stretch of a capacity bar, in percent of the bar's width."""

    kind: str  # "sold", "held", "blocked" or "remaining"
    value: int
    x: float
    width: float


@dataclass(frozen=True)
class CapacityBar:
    """A capacity drawn as a bar: sold, held, blocked, remaining.

    When more is taken than the capacity (comp tickets, a forced lower), the bar
    is scaled to what is taken and ``capacity_mark`` is where the cap falls.
    """

    segments: tuple[BarSegment, ...]
    capacity_mark: float | None


def capacity_bar(*, capacity, sold, held, blocked) -> CapacityBar | None:
    """The bar for a capacity; None when unlimited (capacity None or 0)."""
    if not capacity:
        return None
    taken = sold + held + blocked
    scale = max(capacity, taken)
    segments = []
    x = 0.0
    parts = [("sold", sold), ("held", held), ("blocked", blocked)]
    parts.append(("remaining", max(0, capacity - taken)))
    for kind, value in parts:
        width = 100 * value / scale
        segments.append(BarSegment(kind=kind, value=value, x=round(x, 3), width=round(width, 3)))
        x += width
    mark = round(100 * capacity / scale, 3) if taken > capacity else None
    return CapacityBar(segments=tuple(segments), capacity_mark=mark)


# --- the chart ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChartBar:
    """One bucket of the sales chart with its SVG geometry (viewBox units)."""

    start: datetime  # the bucket's start, in the conference's time zone
    label: str
    sold: int
    held: int
    x: float
    width: float
    sold_y: float
    sold_height: float
    held_y: float
    held_height: float
    show_label: bool

    @property
    def seats(self):
        return self.sold + self.held

    @property
    def label_x(self):
        """The centre of the bar, kept far enough from the edges for a label to fit."""
        return round(min(max(self.x + self.width / 2, 20), CHART_WIDTH - 20), 2)


@dataclass(frozen=True)
class SalesChart:
    granularity: str
    bars: list[ChartBar]
    peak: int
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    plot_height: int = CHART_HEIGHT - CHART_LABEL_BAND

    @property
    def total(self):
        return sum(bar.seats for bar in self.bars)

    @property
    def label_y(self):
        return self.height - 6

    @cached_property
    def bars_svg(self) -> SafeString:
        """The bars as SVG groups, for the chart's ``<svg>`` in the dashboard's template.

        Drawn here rather than in a template loop, which looked up each bar's
        dozen values one by one: every poll after a sale draws the chart again.
        Numbers are written as Python writes them; the only text, the label and
        the tooltip, is escaped.
        """
        return mark_safe("\n".join(self._bar_svg(bar) for bar in self.bars))

    def _bar_svg(self, bar) -> str:
        # Translators: the tooltip of one bar of the sales chart ("14:00: 3 sold, 1 held").
        title = gettext("%(label)s: %(sold)s sold, %(held)s held") % {
            "label": bar.label,
            "sold": bar.sold,
            "held": bar.held,
        }
        x, width = bar.x, bar.width
        parts = [
            f'<g class="chart-bar" data-start="{bar.start.isoformat()}"'
            f' data-sold="{bar.sold}" data-held="{bar.held}"><title>{escape(title)}</title>',
            f'<rect class="chart-slot" x="{x}" y="0" width="{width}" height="{self.plot_height}"/>',
        ]
        if bar.sold:
            parts.append(
                f'<rect class="seg-sold" x="{x}" y="{bar.sold_y}" width="{width}"'
                f' height="{bar.sold_height}"/>'
            )
        if bar.held:
            parts.append(
                f'<rect class="seg-held" x="{x}" y="{bar.held_y}" width="{width}"'
                f' height="{bar.held_height}"/>'
            )
        if bar.show_label:
            parts.append(
                f'<text class="chart-label" x="{bar.label_x}" y="{self.label_y}">'
                f"{escape(bar.label)}</text>"
            )
        parts.append("</g>")
        return "".join(parts)


def _bar_label(start, granularity) -> str:
    """ "14:00" for an hour; "05 Mar" for a day, the month in the active language."""
    if granularity == "hour":
        return start.strftime("%H:%M")
    return format_date(start, "d M")


def draw_sales_chart(granularity, starts, counts) -> SalesChart:
    """The chart of ``counts`` ((sold, held) per bucket) for buckets starting at
    ``starts`` (oldest first, in the conference's time zone), per "hour" or "day".

    Bars share the plot's height in proportion to the busiest bucket; every
    third hour (every second day) is labelled, counting back from the latest.
    """
    peak = max((sold + held for sold, held in counts), default=0)
    plot_height = CHART_HEIGHT - CHART_LABEL_BAND
    slot = CHART_WIDTH / len(starts)
    scale = plot_height / peak if peak else 0
    label_every = 3 if granularity == "hour" else 2
    bars = []
    for index, (start, (sold, held)) in enumerate(zip(starts, counts, strict=True)):
        sold_height = sold * scale
        held_height = held * scale
        bars.append(
            ChartBar(
                start=start,
                label=_bar_label(start, granularity),
                sold=sold,
                held=held,
                x=round(index * slot + 1, 2),
                width=round(slot - 2, 2),
                sold_y=round(plot_height - sold_height, 2),
                sold_height=round(sold_height, 2),
                held_y=round(plot_height - sold_height - held_height, 2),
                held_height=round(held_height, 2),
                show_label=(len(starts) - 1 - index) % label_every == 0,
            )
        )
    return SalesChart(granularity=granularity, bars=bars, peak=peak)
