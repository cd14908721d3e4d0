"""/metrics: what the bot took in, sent and decided, and what waits, in Prometheus' format."""

from __future__ import annotations

import re

import aiohttp

from bot.demo import RESIDENTS_GROUP
from tests.e2e.harness import Linli
from tests.e2e.test_repair import WANG, fill_in_repair, outbox_idle


async def scrape(linli: Linli) -> dict[str, float]:
    """The samples of /metrics, by name with labels."""
    url = f"http://127.0.0.1:{linli.runtime.web_port}/metrics"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples = {}
    for line in text.splitlines():
        found = re.match(r"^([a-z_0-9]+(?:\{[^}]*\})?) ([0-9.e+-]+)$", line)
        if found:
            samples[found.group(1)] = float(found.group(2))
    return samples


async def test_metrics_count_updates_answers_sends_and_open_tickets(linli: Linli) -> None:
    before = await scrape(linli)
    [_answer] = await linli.say(RESIDENTS_GROUP, WANG, "物业费在哪交啊？")
    await linli.sandbox.send(RESIDENTS_GROUP, WANG, "早上好各位邻居🌞")
    summary = await fill_in_repair(linli)
    from tests.e2e.test_repair import press

    await press(linli, WANG, WANG, summary, "提交")
    await outbox_idle(linli)
    linli.runtime._gauges._read_at = -1e9  # type: ignore[union-attr]  # no 5 s cache here
    after = await scrape(linli)

    def grew(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert grew('linli_updates_total{kind="message"}') >= 3
    assert grew('linli_faq_decisions_total{decision="answer",mode="passive"}') >= 1
    assert grew('linli_faq_decisions_total{decision="silent",mode="passive"}') >= 1
    assert grew('linli_outbox_messages_total{method="sendMessage",outcome="sent"}') >= 1
    assert grew("linli_send_seconds_count") >= 1
    assert after["linli_tickets_open"] >= 1 and after["linli_outbox_pending"] == 0
    assert after["linli_active"] == 1
    assert "linli_checkin_alerts_open" in after and "linli_telegram_429_total" in after
