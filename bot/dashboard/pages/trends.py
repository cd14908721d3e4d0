"""Trends: check-ins answered per day (30 days), tickets opened and closed per week with the
median time to close, FAQ answers and unanswered questions per week — as SVG charts drawn on
the server with pygal (a PyPI package; no script reaches the browser), each with its table."""

from __future__ import annotations

import re
from typing import Any

import pygal
from markupsafe import Markup
from pygal.style import Style

from bot.dashboard import Page, Table, registry

SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)
STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#9aa5b1",
    colors=("#1d5c63", "#e07a1f", "#b42318", "#52606d"),
    font_family="system-ui, 'Microsoft YaHei', 'PingFang SC', sans-serif",
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
    title_font_size=14,
)


def chart(
    kind: type[pygal.graph.graph.Graph],
    title: str,
    labels: list[str],
    series: list[tuple[str, list[Any]]],
) -> Markup:
    """An inline SVG chart (numbers and dates only: no user text goes into it)."""
    drawing = kind(
        width=760,
        height=300,
        style=STYLE,
        title=title,
        show_legend=True,
        legend_at_bottom=True,
        x_label_rotation=30 if len(labels) > 14 else 0,
        show_minor_x_labels=len(labels) <= 14,
        x_labels_major_every=5 if len(labels) > 14 else None,
        disable_xml_declaration=True,
        js=[],
        no_data_text="—",
        print_values=False,
    )
    drawing.x_labels = labels
    for name, values in series:
        drawing.add(name, values)
    svg = SCRIPT.sub("", drawing.render(is_unicode=True))  # pygal adds a config script: not needed
    return Markup(svg)  # noqa: S704 - pygal's own SVG of our numbers


@registry.get("/trends", "trends.html")
async def trends(page: Page) -> dict[str, Any]:
    """The three trends of the viewer's community."""
    tr = page.tr
    services = page.services
    days = await services.care.daily_counts(page.community_id, 30)
    day_labels = [d[5:] for d, _, _ in days]
    checkins = chart(
        pygal.Bar,
        tr("Daily check-ins over 30 days"),
        day_labels,
        [
            (tr("held"), [h for _, h, _ in days]),
            (tr("answered by the elder"), [a for _, _, a in days]),
        ],
    )
    tickets = await services.trends.tickets(page.community_id, 12)
    week_labels = [w.week.strftime("%m-%d") for w in tickets]
    ticket_chart = chart(
        pygal.Bar,
        tr("Repair tickets per week"),
        week_labels,
        [(tr("opened"), [w.opened for w in tickets]), (tr("closed"), [w.closed for w in tickets])],
    )
    median_chart = chart(
        pygal.Line,
        tr("Median hours to close"),
        week_labels,
        [
            (
                tr("hours"),
                [round(w.median_hours, 1) if w.median_hours is not None else None for w in tickets],
            )
        ],
    )
    faq = await services.trends.faq(page.community_id, 12)
    faq_chart = chart(
        pygal.Bar,
        tr("Questions per week"),
        [w.week.strftime("%m-%d") for w in faq],
        [
            (tr("answered"), [w.answers for w in faq]),
            (tr("close questions offered"), [w.suggested for w in faq]),
            (tr("unanswered"), [w.gaps for w in faq]),
        ],
    )
    return {
        "checkins_chart": checkins,
        "tickets_chart": ticket_chart,
        "median_chart": median_chart,
        "faq_chart": faq_chart,
        "checkins": Table(
            "checkins-per-day",
            [tr("Day"), tr("held"), tr("answered by the elder")],
            [[d, str(h), str(a)] for d, h, a in days],
        ),
        "tickets": Table(
            "tickets-per-week",
            [tr("Week of"), tr("opened"), tr("closed"), tr("Median hours to close")],
            [
                [
                    w.week.isoformat(),
                    str(w.opened),
                    str(w.closed),
                    f"{w.median_hours:.1f}" if w.median_hours is not None else "",
                ]
                for w in tickets
            ],
        ),
        "faq": Table(
            "questions-per-week",
            [tr("Week of"), tr("answered"), tr("close questions offered"), tr("unanswered")],
            [[w.week.isoformat(), str(w.answers), str(w.suggested), str(w.gaps)] for w in faq],
        ),
    }
