"""The install pages a person reads in a browser: "Add to Slack", installed, failed, and the notice a workspace
that uninstalled Crossfeed sees. Pure functions of their data; every value shown is HTML-escaped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape
from urllib.parse import urlencode

# Small, readable on a 390-pixel phone and a desktop alike: one column that wraps, nothing wider than the screen.
STYLE = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:#1d1c1d;background:#f8f8f8;overflow-wrap:anywhere}
main{max-width:36rem;margin:0 auto;padding:2rem 1.25rem}
h1{font-size:1.6rem;line-height:1.25;margin:0 0 1rem}
p,li{margin:0 0 .75rem}
ul{padding-left:1.25rem}
.button{display:inline-block;margin:.5rem 0 1rem;padding:.75rem 1.25rem;border-radius:.5rem;background:#4a154b;
color:#fff;font-weight:700;text-decoration:none}
.notice{border-left:4px solid #e8a723;background:#fff8e5;padding:.75rem 1rem;margin:0 0 1rem}
.small{color:#616061;font-size:.9rem}
code{background:#eee;padding:0 .25rem;border-radius:.25rem}
"""


@dataclass(frozen=True)
class Uninstalled:
    on: date
    kept_until: date


# Why an install failed, in words a person can act on (Bolt's failure reasons, and Slack's `error` parameter).
FAILURES = {
    "access_denied": "You cancelled the install, so Crossfeed was not added.",
    "invalid_browser": "This install was started in another browser (or its cookie was lost). "
                       "Start again in this browser.",
    "invalid_state": "This install link has expired or was already used. Start again.",
    "missing_code": "Slack didn't send the approval back. Start again.",
    "invalid_code": "Slack didn't accept the approval (it may have expired). Start again.",
    "storage_error": "Crossfeed couldn't save the install. Try again in a minute.",
}


def _date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
            f"<body><main>{body}</main></body></html>\n")


def install_page(*, authorize_url: str, uninstalled: Uninstalled | None = None) -> str:
    notice = ""
    if uninstalled is not None:
        notice = (f'<p class="notice">Crossfeed was removed from this workspace on {_date(uninstalled.on)}. '
                  f"Its data is kept until {_date(uninstalled.kept_until)}: add it again before then to keep "
                  f"your ratings, pulses and digests. After that date they are deleted.</p>")
    body = (
        "<h1>Add Crossfeed to Slack</h1>"
        f"{notice}"
        "<p>Crossfeed closes the feedback loop between sales and marketing, inside Slack:</p>"
        "<ul><li>reps rate the leads they get with <code>/leadfeedback</code>;</li>"
        "<li>marketers ask how their messaging landed with <code>/messaging ask</code>;</li>"
        "<li>both teams answer a short weekly pulse;</li>"
        "<li>leaders read a weekly alignment digest in a shared channel.</li></ul>"
        f'<a class="button" href="{escape(authorize_url, quote=True)}">Add to Slack</a>'
        "<p class=\"small\">Slack will ask you to approve what Crossfeed may do in your workspace. "
        "Afterwards, an admin runs <code>/alignment setup</code> to choose the teams and the digest channel.</p>"
    )
    return _page("Add Crossfeed to Slack", body)


def installed_page(*, workspace: str, app_id: str | None, team_id: str | None) -> str:
    name = escape(workspace, quote=False) if workspace else "your workspace"
    open_link = ""
    if app_id and team_id:
        query = urlencode({"team": team_id, "id": app_id})
        open_link = (f'<a class="button" href="https://slack.com/app_redirect?{escape(query)}">'
                     "Open Crossfeed in Slack</a>")
    body = (
        f"<h1>Crossfeed is installed in {name}</h1>"
        "<p>Next steps:</p>"
        "<ul><li>An admin runs <code>/alignment setup</code> to choose the sales and marketing teams and the digest "
        "channel.</li>"
        "<li>Anyone can try <code>/leadfeedback help</code>.</li>"
        "<li>Open Crossfeed's Home tab in Slack to see what is waiting for you.</li></ul>"
        f"{open_link}"
        "<p class=\"small\">You can close this page.</p>"
    )
    return _page("Crossfeed is installed", body)


def failed_page(*, reason: str, install_path: str) -> str:
    why = FAILURES.get(reason, "Slack couldn't finish the install. Start again.")
    body = (
        "<h1>Crossfeed wasn't installed</h1>"
        f"<p>{escape(why, quote=False)}</p>"
        f'<a class="button" href="{escape(install_path, quote=True)}">Start the install again</a>'
        f'<p class="small">If it keeps failing, send your Slack admin this code: <code>{escape(reason)}</code>.</p>'
    )
    return _page("Crossfeed wasn't installed", body)
