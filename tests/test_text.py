"""Pure text helpers: Slack's escaping in, mrkdwn escaping out, lead identity."""

import pytest

from bot.text import escape_mrkdwn, lead_key, plain_command_text


@pytest.mark.parametrize("sent, typed", [
    ("ACME-1 2", "ACME-1 2"),
    ("<mailto:jane@acme.com|jane@acme.com> 2", "jane@acme.com 2"),
    ("<https://acme.com|acme.com> 2", "https://acme.com 2"),
    ("<https://acme.com> 2", "https://acme.com 2"),
    ('note "<@U123|bob> and <#C1|sales> <!here>"', 'note "@bob and #sales @here"'),
    ("&lt;b&gt; &amp;amp;", "<b> &amp;"),
    ("“smart” ‘quotes’", "\"smart\" 'quotes'"),
])
def test_plain_command_text_undoes_slack_escaping(sent, typed):
    assert plain_command_text(sent) == typed


def test_escape_mrkdwn_neutralises_mentions_and_links():
    assert escape_mrkdwn("<!channel> & <https://evil|click>") == "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"


@pytest.mark.parametrize("ref, key", [
    ("ACME-4411", "acme-4411"),
    ("  Acme   Corp ", "acme corp"),
    ("https://www.Acme.com/", "acme.com"),
    ("acme.com", "acme.com"),
    ("Jane@Acme.com", "jane@acme.com"),
])
def test_lead_key_ignores_case_spacing_and_url_noise(ref, key):
    assert lead_key(ref) == key
