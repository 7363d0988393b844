"""The timeline above the table: matching events over time, SUCCESS and FAILED stacked per bar.

A click on a bar, or a drag across bars, hands that time range to `on_range`. The drag is read in the
browser from ECharts' own pointer events (see DRAG_JS) and arrives as one `range` event with the first
and last bar's index; the server maps indexes to times, so the browser never sends a time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui

from store.engine.timefmt import from_millis
from store.read.insight import DAY, Bucket, Timeline, Unit

OnRange = Callable[[datetime, datetime], Awaitable[None]]
GREEN, RED = '#21BA45', '#C10015'  # Quasar's positive and negative, as the Status badges
MUTED, GRID = '#94a3b8', 'rgba(148, 163, 184, 0.25)'  # readable on light and dark backgrounds
# how a bar's full label (the tooltip's title) is cut for the axis
AXIS_LABEL = {'minute': 'v => v.slice(11)', '5 minutes': 'v => v.slice(11)', '15 minutes': 'v => v.slice(5)',
              'hour': 'v => v.slice(5)', 'day': 'v => v.slice(5)', 'week': 'v => v.slice(5)'}

DRAG_JS = """
(() => {
  const attach = (tries) => {
    const el = getElement(%d);
    if (!el || !el.chart) { if (tries > 0) setTimeout(() => attach(tries - 1), 50); return; }
    if (el.__rangeAttached) return;
    el.__rangeAttached = true;
    const chart = el.chart, zr = chart.getZr();
    let from = null;
    const count = () => ((chart.getOption().xAxis || [{}])[0].data || []).length;
    const at = (e, clamp) => {
      const point = [e.offsetX, e.offsetY];
      if (!clamp && !chart.containPixel('grid', point)) return null;
      const index = Math.round(chart.convertFromPixel({gridIndex: 0}, point)[0]);
      if (!Number.isFinite(index) || count() === 0) return null;
      return Math.max(0, Math.min(count() - 1, index));
    };
    const mark = (a, b) => chart.setOption({series: [{id: 'success', markArea: {silent: true,
      itemStyle: {color: 'rgba(59, 130, 246, 0.18)'},
      data: a === null ? [] : [[{xAxis: Math.min(a, b)}, {xAxis: Math.max(a, b)}]]}}]});
    zr.on('mousedown', (e) => { from = at(e, false); if (from !== null) mark(from, from); });
    zr.on('mousemove', (e) => { if (from !== null) { const to = at(e, true); if (to !== null) mark(from, to); } });
    zr.on('mouseup', (e) => {
      if (from === null) return;
      const a = from, b = at(e, true);
      from = null;
      mark(null);
      el.$emit('range', {first: Math.min(a, b ?? a), last: Math.max(a, b ?? a)});
    });
  };
  attach(400);
})();
"""


def bar_label(unit: Unit, bucket: Bucket, tz: ZoneInfo) -> str:
    """A bar's full label: local date and time for bars under a day, the UTC date for wider ones (the
    daily counts are kept per UTC day)."""
    start = from_millis(unit.start(unit.key(bucket.start)))
    if unit.ms and unit.ms < DAY:
        return start.astimezone(tz).strftime('%Y-%m-%d %H:%M')
    if unit.name == 'month':
        return start.strftime('%Y-%m')
    if unit.name == 'year':
        return start.strftime('%Y')
    return start.strftime('%Y-%m-%d')


def caption(timeline: Timeline, tz: ZoneInfo) -> str:
    if not timeline.buckets:
        return 'Events over time: none in view'
    unit = timeline.unit
    utc = ' (UTC days)' if tz.key != 'UTC' and not (unit.ms and unit.ms < DAY) else ''
    return f'Events over time: {timeline.total:,} in view, one bar per {unit.name}{utc}'


def options(timeline: Timeline, tz: ZoneInfo) -> dict[str, Any]:
    labels = [bar_label(timeline.unit, bucket, tz) for bucket in timeline.buckets]
    axis = {'color': MUTED, 'hideOverlap': True}
    if timeline.unit.name in AXIS_LABEL:
        axis[':formatter'] = AXIS_LABEL[timeline.unit.name]
    return {
        'animation': False,
        'grid': {'left': 8, 'right': 8, 'top': 28, 'bottom': 4, 'containLabel': True},
        'legend': {'data': ['SUCCESS', 'FAILED'], 'right': 0, 'top': 0, 'textStyle': {'color': MUTED}},
        'tooltip': {'trigger': 'axis', 'axisPointer': {'type': 'shadow'}},
        'xAxis': {'type': 'category', 'data': labels, 'axisLabel': axis, 'axisTick': {'alignWithLabel': True},
                  'axisLine': {'lineStyle': {'color': MUTED}}},
        'yAxis': {'type': 'value', 'minInterval': 1, 'axisLabel': {'color': MUTED},
                  'splitLine': {'lineStyle': {'color': GRID}}},
        'series': [
            {'id': 'success', 'name': 'SUCCESS', 'type': 'bar', 'stack': 'status', 'barCategoryGap': '15%',
             'itemStyle': {'color': GREEN}, 'data': [bucket.success for bucket in timeline.buckets]},
            {'id': 'failed', 'name': 'FAILED', 'type': 'bar', 'stack': 'status',
             'itemStyle': {'color': RED}, 'data': [bucket.failed for bucket in timeline.buckets]},
        ],
    }


class TimelineChart:
    def __init__(self, timeline: Timeline, tz: ZoneInfo, on_range: OnRange) -> None:
        self._tz = tz
        self._on_range = on_range
        self.timeline = timeline
        with ui.column().classes('w-full gap-0').mark('timeline-box'):
            with ui.row().classes('w-full items-baseline justify-between'):
                self.caption = ui.label(caption(timeline, tz)).classes('text-sm text-slate-500 dark:text-slate-400') \
                    .mark('timeline-caption')
                ui.label('Click a bar or drag across bars to narrow the time range') \
                    .classes('text-xs text-slate-600 dark:text-slate-400 max-sm:hidden')
            self.chart = ui.echart(options(timeline, tz)).classes('w-full h-44').mark('timeline')
            # for screen readers: the picture, and the keyboard's way to do what a click on it does
            self.chart.props('role=img aria-label="Events over time. Narrow the time range with the Time range '
                             'select."')
        self.chart.on('range', self._picked)
        ui.run_javascript(DRAG_JS % self.chart.id)

    def show(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.caption.set_text(caption(timeline, self._tz))
        self.chart.options.clear()
        self.chart.options.update(options(timeline, self._tz))
        self.chart.update()

    async def _picked(self, e) -> None:
        args = e.args[0] if isinstance(e.args, list) and e.args else e.args
        if not isinstance(args, dict):
            return
        first, last = args.get('first'), args.get('last')
        buckets = self.timeline.buckets
        if not (isinstance(first, int) and isinstance(last, int) and 0 <= first <= last < len(buckets)):
            return
        await self._on_range(from_millis(buckets[first].start), from_millis(buckets[last].end))
