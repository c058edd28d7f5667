"""Sources typed by reps on admins' Home: the queue, Approve, Merge into…, who may, repeats and escaping."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from bot.blocks.ids import HomeIds
from bot.handoff import LeadInput, receive_lead
from storage import teams as team_store
from storage.models import Lead, LeadRating, LeadSource
from tests.helpers import TEAM
from tests.test_home import open_home, published, shown

ADMINS = ("A1", "A2")


def setup_admins(running, *admins: str) -> None:
    with running.crossfeed.transaction() as session:
        team_store.workspace_config(session=session, team_id=TEAM)
        team_store.add_admins(session=session, team_id=TEAM, user_ids=list(admins or ADMINS), added_by=None)


def rate_typed(slack, lead: str, typed: str, *, user: str = "U1") -> None:
    reply = slack.command("/leadfeedback", f"{lead} 2 no-budget source:{typed}", user=user)
    assert reply.status == 200 and "Rated" in reply.body


def hand_off_typed(running, crm_id: str, typed: str) -> None:
    with running.crossfeed.transaction() as session:
        receive_lead(session=session, team_id=TEAM, lead=LeadInput(id=crm_id, source=typed), now=datetime.now(UTC))


def home_of(running, slack, user: str = "A1") -> dict:
    """The Home `user` sees now: opened afresh, once everything before has settled."""
    running.settle()
    before = len([c for c in running.fake.calls_to("views.publish") if c.params["user_id"] == user])
    open_home(slack, user)
    return published(running.fake, user, count=before + 1)[-1]


def queue(view: dict) -> list[tuple[str, str, list[str]]]:
    """The typed sources listed on a Home: (line, key, merge options) each."""
    blocks = view["blocks"]
    found = []
    for before, block in zip(blocks, blocks[1:], strict=False):
        if block["type"] == "actions" and block["block_id"].startswith(f"{HomeIds.TYPED_SOURCE}."):
            approve, *merge = block["elements"]
            assert approve["action_id"] == HomeIds.APPROVE_SOURCE
            assert block["block_id"] == f"{HomeIds.TYPED_SOURCE}.{approve['value']}"
            options = [o["text"]["text"] for o in merge[0]["options"]] if merge else []
            found.append((before["text"]["text"], approve["value"], options))
    return found


def key_of(view: dict, text: str) -> str:
    return next(key for line, key, _ in queue(view) if f"*{text}*" in line)


def click(slack, action_id: str, key: str, *, user: str = "A1", source_id: int | None = None):
    if source_id is None:
        action = {"type": "button", "action_id": action_id, "value": key,
                  "text": {"type": "plain_text", "text": "Approve"}}
    else:
        action = {"type": "static_select", "action_id": action_id,
                  "selected_option": {"value": str(source_id), "text": {"type": "plain_text", "text": "x"}}}
    action.update(block_id=f"{HomeIds.TYPED_SOURCE}.{key}", action_ts="1.2")
    payload = {"type": "block_actions", "team": {"id": TEAM, "domain": "acme"}, "user": {"id": user, "team_id": TEAM},
               "api_app_id": "A1", "trigger_id": "13345.trigger", "container": {"type": "view", "view_id": "VHOME"},
               "actions": [action],
               "view": {"id": "VHOME", "type": "home", "callback_id": "", "private_metadata": "", "blocks": []}}
    reply = slack.interactive(payload)
    assert reply.status == 200
    return reply


def approve(slack, key: str, *, user: str = "A1"):
    return click(slack, HomeIds.APPROVE_SOURCE, key, user=user)


def merge(slack, key: str, source_id: int, *, user: str = "A1"):
    return click(slack, HomeIds.MERGE_SOURCE, key, user=user, source_id=source_id)


def filed(running) -> dict[str, tuple[str | None, str | None]]:
    """Each rating's and lead's (source code, typed text), by lead reference or CRM id."""
    with running.crossfeed.sessions() as session:
        rows = {r.lead_ref: (r.source.code if r.source else None, r.source_text)
                for r in session.scalars(select(LeadRating))}
        for lead in session.scalars(select(Lead)):
            code = session.scalar(select(LeadSource.code).where(LeadSource.id == lead.source_id))
            rows[lead.crm_id] = (code, lead.source_text)
    return rows


def source(running, code: str) -> LeadSource | None:
    with running.crossfeed.sessions() as session:
        return session.scalar(select(LeadSource).where(LeadSource.team_id == TEAM, LeadSource.code == code))


def notices(running) -> list[str]:
    return [shown(call.view) for call in running.fake.calls_to("views.open")]


# --- the queue --------------------------------------------------------------------------------


def test_admins_see_the_typed_sources_most_used_first_with_approve_and_merge(running, slack):
    setup_admins(running)
    for n, typed in enumerate(["webinarz", "Webinarz", "g2", "webinarz"]):
        rate_typed(slack, f"A-{n}", typed, user=f"U{n}")
    hand_off_typed(running, "CRM-1", "g2")
    hand_off_typed(running, "CRM-2", "Podcast ads")

    view = home_of(running, slack, "A1")

    text = shown(view)
    assert ":label: *Sources typed by reps* (not yet sources, most used first)" in text
    listed = queue(view)
    assert [line for line, _, _ in listed] == ["*webinarz* · 3 ratings", "*g2* · 1 rating · 1 handed-off lead",
                                               "*Podcast ads* · 1 handed-off lead"]
    _, key, options = listed[0]
    assert len(key) == 16 and "Webinar" in options and "Other" in options
    assert len(view["blocks"]) <= 100
    assert "Sources typed by reps" not in shown(home_of(running, slack, "U1")), "for admins only"


def test_the_queue_is_cut_with_and_n_more(running, slack):
    setup_admins(running)
    for n in range(7):
        rate_typed(slack, f"A-{n}", f"made-up-{n}")

    view = home_of(running, slack)

    assert len(queue(view)) == 5
    assert "…and 2 more: the next ones show here as you approve or merge these." in shown(view)


# --- Approve ----------------------------------------------------------------------------------


def test_approve_adds_the_source_as_typed_and_moves_its_ratings_and_leads(running, slack):
    setup_admins(running)
    rate_typed(slack, "A-1", "Webinarz", user="U1")
    rate_typed(slack, "A-2", "Webinarz", user="U2")
    rate_typed(slack, "A-3", "g2", user="U1")
    hand_off_typed(running, "CRM-1", "WEBINARZ")  # spelled differently only in case: the same typed source
    key = key_of(home_of(running, slack, "A1"), "Webinarz")
    running.fake.reset()

    approve(slack, key, user="A1")
    running.settle()

    added = source(running, "webinarz")
    assert (added.label, added.created_by, added.retired_at) == ("Webinarz", "A1", None), "the most used spelling"
    assert filed(running) == {"A-1": ("webinarz", None), "A-2": ("webinarz", None), "A-3": ("other", "g2"),
                              "CRM-1": ("webinarz", None)}
    for admin in ADMINS:  # every admin's Home is refreshed, the clicker's too
        refreshed = shown(published(running.fake, admin)[-1])
        assert "*g2*" in refreshed and "ebinarz* ·" not in refreshed
    assert not running.fake.calls_to("views.open") and not running.fake.calls_to("chat.postMessage")
    rater = shown(published(running.fake, "U2")[-1])  # so is the Home of each rep whose rating moved
    assert "A-2" in rater and "Other: Webinarz" not in rater and "Webinarz" in rater

    rate_typed(slack, "A-4", "webinarz", user="U3")
    assert filed(running)["A-4"] == ("webinarz", None), "the next rep typing it lands on the new source"


def test_the_section_disappears_when_nothing_waits(running, slack):
    setup_admins(running, "A1")
    rate_typed(slack, "A-1", "g2")
    key = key_of(home_of(running, slack), "g2")

    approve(slack, key)

    assert "Sources typed by reps" not in shown(home_of(running, slack))


def test_approving_twice_changes_nothing_and_says_so(running, slack):
    setup_admins(running, "A1")
    rate_typed(slack, "A-1", "webinarz")
    key = key_of(home_of(running, slack), "webinarz")

    approve(slack, key)
    approve(slack, key)  # a double click, or Slack's retry
    running.settle()

    with running.crossfeed.sessions() as session:
        assert session.scalar(select(LeadSource.code).where(LeadSource.label == "webinarz")) == "webinarz"
        assert len(session.scalars(select(LeadSource).where(LeadSource.code == "webinarz")).all()) == 1
    assert filed(running) == {"A-1": ("webinarz", None)}
    [notice] = notices(running)
    assert "“webinarz” already counts under *webinarz*: nothing changed." in notice


# --- Merge into… ------------------------------------------------------------------------------


def test_merge_moves_the_ratings_and_leads_and_the_next_rep_typing_it_matches(running, slack):
    setup_admins(running)
    rate_typed(slack, "A-1", "webinarz")
    rate_typed(slack, "A-2", "Webinarz", user="U2")
    hand_off_typed(running, "CRM-1", "webinarz")
    key = key_of(home_of(running, slack), "webinarz")  # the spelling most used
    webinar = source(running, "webinar")

    merge(slack, key, webinar.id)
    running.settle()

    assert filed(running) == {"A-1": ("webinar", None), "A-2": ("webinar", None), "CRM-1": ("webinar", None)}
    assert source(running, "webinar").aliases == [*webinar.aliases, "webinarz"]
    assert source(running, "webinarz") is None, "no source added"
    assert "Sources typed by reps" not in shown(published(running.fake, "A2")[-1])

    rate_typed(slack, "A-3", "WEBINARZ", user="U3")
    hand_off_typed(running, "CRM-2", "webinarz")
    assert filed(running)["A-3"] == ("webinar", None) and filed(running)["CRM-2"] == ("webinar", None)


def test_merging_twice_changes_nothing_and_says_so(running, slack):
    setup_admins(running, "A1")
    rate_typed(slack, "A-1", "webinarz")
    key = key_of(home_of(running, slack), "webinarz")
    webinar, event = source(running, "webinar"), source(running, "event")

    merge(slack, key, webinar.id)
    merge(slack, key, event.id)  # a second pick, after the first one filed it
    running.settle()

    assert filed(running) == {"A-1": ("webinar", None)}
    assert source(running, "webinar").aliases.count("webinarz") == 1
    assert "webinarz" not in source(running, "event").aliases
    [notice] = notices(running)
    assert "“webinarz” already counts under *Webinar*: nothing changed." in notice


# --- who may, and what can't be trusted ----------------------------------------------------------


def test_a_non_admin_is_refused_and_nothing_changes(running, slack):
    setup_admins(running, "A1")
    rate_typed(slack, "A-1", "webinarz")
    key = key_of(home_of(running, slack), "webinarz")
    running.fake.reset()

    approve(slack, key, user="U1")  # a forged click: reps have no such button
    merge(slack, key, source(running, "webinar").id, user="U1")
    running.settle()

    refusals = [call for call in running.fake.calls_to("chat.postMessage") if call.params["channel"] == "U1"]
    assert len(refusals) == 2
    assert all("Only Crossfeed admins can approve or merge the sources reps typed; nothing changed. "
               "Ask one of them: <@A1>." in call.params["text"] for call in refusals)
    assert filed(running) == {"A-1": ("other", "webinarz")}
    assert source(running, "webinarz") is None and "webinarz" not in source(running, "webinar").aliases
    assert not running.fake.calls_to("views.publish")


def test_a_click_naming_no_typed_source_changes_nothing(running, slack):
    setup_admins(running, "A1")
    rate_typed(slack, "A-1", "webinarz")
    running.fake.reset()

    approve(slack, "0" * 16)  # well-formed, but names nothing waiting
    approve(slack, "../../<!channel>")  # not a key at all
    merge(slack, key_of(home_of(running, slack), "webinarz"), 2**40)  # no such source
    running.settle()

    assert filed(running) == {"A-1": ("other", "webinarz")}
    assert "isn't waiting any more" in notices(running)[0]
    told = " ".join(call.params["text"] for call in running.fake.calls_to("chat.postMessage"))
    assert "That button is from an older Home tab" in told and "<!channel>" not in told


def test_hostile_typed_text_is_escaped_and_never_in_a_value(running, slack):
    setup_admins(running, "A1")
    hostile = "<!channel> & <@U0ADMIN>"
    rate_typed(slack, "A-1", '"&lt;!channel&gt; &amp; &lt;@U0ADMIN&gt;"')  # as Slack sends what was typed
    hand_off_typed(running, "CRM-1", hostile)

    view = home_of(running, slack)

    text = shown(view)
    assert "<!channel>" not in text and "<@U0ADMIN>" not in text
    [(line, key, _)] = queue(view)
    assert line == "*&lt;!channel&gt; &amp; &lt;@U0ADMIN&gt;* · 1 rating · 1 handed-off lead"
    assert all(len(json.dumps(b)) < 4000 for b in view["blocks"])

    approve(slack, key)
    approve(slack, key)
    running.settle()

    assert source(running, "channel-and-u0admin").label == hostile
    assert filed(running) == {"A-1": ("channel-and-u0admin", None), "CRM-1": ("channel-and-u0admin", None)}
    [notice] = notices(running)
    assert "<!channel>" not in notice and "&lt;!channel&gt; &amp; &lt;@U0ADMIN&gt;" in notice


def test_a_lead_typed_before_its_source_existed_is_filed_when_a_rep_adds_it_by_typing(running, slack):
    setup_admins(running, "A1")
    hand_off_typed(running, "CRM-1", "Podcast")
    with running.crossfeed.transaction() as session:
        team_store.workspace_config(session=session, team_id=TEAM).allow_new_sources = True

    rate_typed(slack, "A-1", "podcast")

    assert filed(running) == {"A-1": ("podcast", None), "CRM-1": ("podcast", None)}
    assert "Sources typed by reps" not in shown(home_of(running, slack))


def test_approving_a_text_that_names_a_source_by_now_files_it_there(running, slack):
    setup_admins(running, "A1")
    hand_off_typed(running, "CRM-1", "Podcast")
    key = key_of(home_of(running, slack), "Podcast")
    with running.crossfeed.transaction() as session:  # added meanwhile, by a way that files nothing
        session.add(LeadSource(team_id=TEAM, code="podcasts", label="Podcasts", aliases=["podcast"], position=99))

    approve(slack, key)
    running.settle()

    assert filed(running) == {"CRM-1": ("podcasts", None)}
    assert source(running, "podcast") is None, "not added twice"


def test_what_cannot_be_approved_is_explained_and_can_still_be_merged(running, slack):
    setup_admins(running, "A1")
    hand_off_typed(running, "CRM-1", "???")
    hand_off_typed(running, "CRM-2", "Roadshow")
    with running.crossfeed.transaction() as session:
        session.add(LeadSource(team_id=TEAM, code="roadshow", label="Roadshows", aliases=[], position=99,
                               retired_at=datetime.now(UTC)))
    view = home_of(running, slack)
    running.fake.reset()

    approve(slack, key_of(view, "???"))
    approve(slack, key_of(view, "Roadshow"))
    running.settle()

    told = [call.params["text"] for call in running.fake.calls_to("chat.postMessage")]
    assert told == ["“???” has no letters or digits, so it can't name a source: merge it into one instead. "
                    "Nothing changed.",
                    "“Roadshow” would be the source `roadshow`, which an admin retired (“Roadshows”). Bring it "
                    "back in `/alignment setup`, or merge “Roadshow” into another source. Nothing changed."]
    assert filed(running) == {"CRM-1": ("other", "???"), "CRM-2": ("other", "Roadshow")}

    merge(slack, key_of(view, "???"), source(running, "other").id)
    running.settle()
    assert filed(running)["CRM-1"] == ("other", None), "merged into Other: no longer waiting"
    assert source(running, "other").aliases == [], "a name without letters or digits matches nothing"
