"""The install pages as a person reads them: "Add to Slack", installed, failed, and the page of a workspace
that uninstalled Crossfeed, served by the app and rendered in headless Chromium on a 390-pixel-wide screen."""

from __future__ import annotations

import html
import json
import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time

from bot import install_pages
from tests.helpers import OAUTH, browse, install

CHROMIUM = Path("/usr/bin/chromium")
PHONE_WIDTH, PHONE_HEIGHT = 390, 844
INSTALLED = datetime.fromisoformat("2026-12-01T15:00:00+00:00")

# Headless Chromium's window is at least 500 pixels wide, so the page is laid out in a 390-pixel frame: a
# srcdoc frame is of the wrapper's origin, so the wrapper can measure it once it has loaded.
WRAPPER = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="page" style="width:{width}px;height:{height}px;border:0" srcdoc="{page}"></iframe>
<script>
document.getElementById("page").addEventListener("load", function () {{
  var d = this.contentDocument, viewport = d.querySelector('meta[name="viewport"]');
  var out = document.createElement("pre");
  out.id = "measured";
  out.textContent = JSON.stringify({{scrollWidth: d.documentElement.scrollWidth, text: d.body.innerText,
                                    viewport: viewport ? viewport.content : null}});
  document.body.appendChild(out);
}});
</script></body></html>"""


def render(page: str, tmp_path: Path) -> dict:
    """What a person sees of `page` on a phone-wide screen: its text, its scroll width and its viewport meta."""
    wrapper = tmp_path / "wrapper.html"
    wrapper.write_text(WRAPPER.format(width=PHONE_WIDTH, height=PHONE_HEIGHT, page=html.escape(page, quote=True)))
    dom = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--window-size={PHONE_WIDTH},{PHONE_HEIGHT}", f"--user-data-dir={tmp_path / 'profile'}",
                          "--dump-dom", wrapper.as_uri()], capture_output=True, text=True, timeout=60).stdout
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, "Chromium rendered no page"
    return json.loads(html.unescape(found.group(1)))


@pytest.fixture
def pages(start_app) -> dict[str, str]:
    """The four pages as the app serves them."""
    if not CHROMIUM.exists():
        pytest.skip("headless Chromium (Debian's chromium package) is not installed")
    app = start_app(**OAUTH)
    with freeze_time(INSTALLED):
        served = {"install": browse(app.url + "/slack/install").body, "installed": install(app, "T2").body,
                  "failed": browse(app.url + "/slack/oauth_redirect?error=access_denied&state=x").body}
        body = json.dumps({"type": "event_callback", "team_id": "T2", "api_app_id": "A1", "event_id": "Ev1",
                           "event_time": 1, "event": {"type": "app_uninstalled"}})
        assert app.slack.post(body, content_type="application/json").status == 200
        app.settle()
    with freeze_time(INSTALLED + timedelta(days=3)):
        served["uninstalled"] = browse(app.url + "/slack/install?team=T2").body
    return served


def test_every_install_page_reads_well_on_a_phone(pages, tmp_path):
    seen = {name: render(page, tmp_path) for name, page in pages.items()}

    for name, page in seen.items():
        assert page["scrollWidth"] <= PHONE_WIDTH, f"the {name} page scrolls sideways ({page['scrollWidth']}px)"
        assert page["viewport"] == "width=device-width, initial-scale=1", name
    assert "Add Crossfeed to Slack" in seen["install"]["text"] and "Add to Slack" in seen["install"]["text"]
    assert "/leadfeedback" in seen["install"]["text"]
    assert "Crossfeed is installed in Team T2" in seen["installed"]["text"]
    assert "/alignment setup" in seen["installed"]["text"]
    assert "Crossfeed wasn't installed" in seen["failed"]["text"]
    assert "You cancelled the install" in seen["failed"]["text"]
    assert "Start the install again" in seen["failed"]["text"]
    assert ("Crossfeed was removed from this workspace on 1 December 2026. Its data is kept until 31 December 2026"
            in seen["uninstalled"]["text"])
    assert "Add to Slack" in seen["uninstalled"]["text"]


def test_a_long_workspace_name_wraps_and_is_shown_as_text(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("headless Chromium (Debian's chromium package) is not installed")
    name = "<b>Acme</b>" + "W" * 80

    page = render(install_pages.installed_page(workspace=name, app_id="A1", team_id="T2"), tmp_path)

    assert page["scrollWidth"] <= PHONE_WIDTH
    assert f"Crossfeed is installed in {name}" in page["text"].replace("\n", "")
