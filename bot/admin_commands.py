"""`/alignment` text, read at the edge into one pydantic model per sub-command.

Each model says what its sub-command needs and, when the text doesn't give it, the words a person sees
(the first thing wrong only, as one line). `read_command` picks the model by the first words; anything
it doesn't know is `Show`, which lists, previews or helps.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from bot.errors import InvalidInput
from bot.export import MAX_WEEKS
from bot.results.teams import SIDES
from bot.results.workspace import DAYS, SCHEDULE_USAGE
from bot.skipped_weeks import WEEK_EXAMPLE, week_label
from bot.text import SLACK_USER_ID, escape_mrkdwn, plain_command_text, truncate
from bot.zones import zone_named

_USER = re.compile(rf"<@({SLACK_USER_ID})(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|[^>]*)?>")
_USERGROUP = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>")
_CLOCK = re.compile(r"([01]?\d|2[0-3]):[0-5]\d")


def mentioned_users(text: str) -> list[str]:
    """User ids mentioned in slash-command text (Slack sends them as <@U123|name>)."""
    return list(dict.fromkeys(_USER.findall(text or "")))


def mentioned_channels(text: str) -> list[str]:
    return list(dict.fromkeys(_CHANNEL.findall(text or "")))


def mentioned_usergroups(text: str) -> list[str]:
    return list(dict.fromkeys(_USERGROUP.findall(text or "")))


def side_in(text: str) -> str | None:
    """Which team the last word naming one names: `sales` or `marketing` (forgiving: `mktg`, `Sales`)."""
    words = re.sub(r"<[^>]*>", " ", text or "").casefold().split()
    for word in reversed(words):
        for side in SIDES:
            if side.startswith(word) and len(word) >= 3 or word in {"mktg", "mkt"} and side == "marketing":
                return side
    return None


def _day_and_time(words: list[str]) -> tuple[str | None, str | None]:
    day = next((w[:3] for w in words if w[:3] in DAYS), None)
    clock = next((w for w in words if _CLOCK.fullmatch(w)), None)
    return day, f"{int(clock.split(':')[0]):02d}:{clock.split(':')[1]}" if clock else None


class Command(BaseModel):
    """One sub-command, read from the text after `/alignment`."""

    model_config = ConfigDict(frozen=True)
    # Admins only, and someone else is told so before what is wrong with their text.
    checks_admin_first: ClassVar[bool] = True

    @classmethod
    def fields_in(cls, raw: str, words: list[str]) -> dict:
        """What the model is validated from; `words` are the case-folded words of `raw`."""
        return {}

    @classmethod
    def read(cls, raw: str) -> Command:
        try:
            return cls.model_validate(cls.fields_in(raw, raw.casefold().split()))
        except ValidationError as error:
            # The first thing wrong, as one friendly line (the usage the person needs to fix it).
            field, message = next(iter(InvalidInput.from_validation_error(error).fields.items()))
            raise InvalidInput({field: message}) from None


def required(field: str, message: str):
    """A validator for `field` that refuses a missing value (None, or nobody mentioned) with `message`."""

    def check(cls, value):
        if not value:
            raise ValueError(message)
        return value

    return field_validator(field, mode="before")(check)


_SIDE_MISSING = "Say which team: `sales` or `marketing`."


class TeamAdd(Command):
    side: str  # read before the people, so a missing team is what is said first
    users: list[str]

    @classmethod
    def fields_in(cls, raw, words):
        return {"side": side_in(raw), "users": mentioned_users(raw)}

    _side_given = required("side", _SIDE_MISSING)
    _someone = required("users", "Mention the people to add, e.g. `/alignment team add @jane @bob sales`.")


class _People(Command):
    """A sub-command about the people it mentions."""

    users: list[str]

    @classmethod
    def fields_in(cls, raw, words):
        return {"users": mentioned_users(raw)}


class TeamRemove(_People):
    _someone = required("users", "Mention the people to remove, e.g. `/alignment team remove @jane`.")


class TeamGroup(Command):
    group: str
    side: str

    @classmethod
    def fields_in(cls, raw, words):
        groups = mentioned_usergroups(raw)
        return {"group": groups[0] if len(groups) == 1 else None, "side": side_in(raw)}

    _one_group = required("group", "Mention one user group, e.g. `/alignment team group @sales-team sales`.")
    _side_given = required("side", _SIDE_MISSING)


class TeamSync(Command):
    pass


class AdminAdd(_People):
    _someone = required("users", "Mention the people to make admins, e.g. `/alignment admin add @jane`.")


class PulseSchedule(Command):
    cadence: Literal["weekly", "biweekly"]
    day: str
    time: str

    @classmethod
    def fields_in(cls, raw, words):
        cadence = next((w for w in words[2:] if w in ("weekly", "biweekly", "fortnightly")), None)
        day, clock = _day_and_time(words[2:])
        if not (cadence and day and clock):
            raise InvalidInput({"schedule": f"I couldn't read that schedule. Write it like {SCHEDULE_USAGE}."})
        return {"cadence": "weekly" if cadence == "weekly" else "biweekly", "day": day, "time": clock}


class PulseSkip(Command):
    """`pulse skip 2026-W52` skips a week's pulse for everyone; `pulse skip` alone lists the skipped weeks."""

    week: str | None = None

    @classmethod
    def fields_in(cls, raw, words):
        return {"week": " ".join(raw.split()[2:]) or None}

    @field_validator("week")
    @classmethod
    def _week(cls, week: str | None) -> str | None:
        return week_label(week) if week is not None else None


class PulseUnskip(Command):
    week: str

    @classmethod
    def fields_in(cls, raw, words):
        return {"week": " ".join(raw.split()[2:]) or None}

    _given = required("week", f"Name the week, e.g. `/alignment pulse unskip {WEEK_EXAMPLE}`.")

    @field_validator("week")
    @classmethod
    def _week(cls, week: str) -> str:
        return week_label(week)


class Timezone(Command):
    name: str

    @classmethod
    def fields_in(cls, raw, words):
        return {"name": (raw.split()[1:2] or [""])[0]}

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        if zone_named(name) is None:
            raise ValueError(f"“{escape_mrkdwn(truncate(name, 40))}” isn't a time zone I know. Use a name like "
                             "`America/New_York` or `Europe/Paris`.")
        return name


class DigestPost(Command):
    pass


class DigestChannels(Command):
    channels: list[str]

    @classmethod
    def fields_in(cls, raw, words):
        return {"channels": mentioned_channels(raw)}

    _some = required("channels", "Mention the channels, e.g. `/alignment digest channels #leadership`.")


class DigestSchedule(Command):
    day: str
    time: str

    @classmethod
    def fields_in(cls, raw, words):
        day, clock = _day_and_time(words[2:])
        if not (day and clock):
            raise InvalidInput({"schedule": "I couldn't read that. Write it like "
                                            "`/alignment digest schedule mon 09:00`."})
        return {"day": day, "time": clock}


class Export(Command):
    weeks: int

    @classmethod
    def fields_in(cls, raw, words):
        word = " ".join(words[1:]).strip() or "12"
        return {"weeks": word}

    @field_validator("weeks", mode="before")
    @classmethod
    def _weeks(cls, value: str | int) -> int:
        word = str(value)
        if not word.isdigit() or not 1 <= int(word) <= MAX_WEEKS:
            raise ValueError(f"Give a number of weeks from 1 to {MAX_WEEKS}, e.g. `/alignment export 26`.")
        return int(word)


class Forget(Command):
    """Admins only, but who to forget is checked first: the confirmation names one person."""

    checks_admin_first: ClassVar[bool] = False
    user: str

    @classmethod
    def fields_in(cls, raw, words):
        users = mentioned_users(raw)
        return {"user": users[0] if len(users) == 1 else None}

    _one = required("user", "Mention one person, e.g. `/alignment forget @jane`.")


class Setup(Command):
    pass


_DATE_LIKE = re.compile(r"\d[\d./-]*\d")
_QUOTED = re.compile(r'"([^"]*)"')
ACTION_USAGE = '`/alignment action "Fix webinar targeting" @jane 2026-12-15`'


class ActionCommand(Command):
    """Actions, for members of either team and admins (the service checks who): `action` opens the form,
    `action list [mine]` lists open ones, `action "title" @owner [YYYY-MM-DD]` logs one (due a week ahead
    when no date is given; the date itself is read, and checked against today, by the actions service)."""

    checks_admin_first: ClassVar[bool] = False
    what: Literal["form", "list", "log"]
    mine: bool = False
    title: str | None = None
    owner: str | None = None
    due: str | None = None

    @classmethod
    def fields_in(cls, raw, words):
        if words[1:] == []:
            return {"what": "form"}
        if words[1:2] == ["list"]:
            if words[2:] not in ([], ["mine"]):
                raise InvalidInput({"list": "Try `/alignment action list` (all open actions) or "
                                            "`/alignment action list mine` (those you own)."})
            return {"what": "list", "mine": words[2:] == ["mine"]}
        owners = mentioned_users(raw)
        rest = plain_command_text(_USER.sub(" ", raw)).split(None, 1)[1:]  # without "action" and the mentions
        rest = rest[0] if rest else ""
        quoted = _QUOTED.search(rest)
        unquoted = _QUOTED.sub(" ", rest).split()
        dates = [word for word in unquoted if _DATE_LIKE.fullmatch(word) and not word.isdigit()]
        title = quoted.group(1) if quoted else " ".join(w for w in unquoted if w not in dates)
        if not " ".join(title.split()):
            raise InvalidInput({"title": f"Say what will be done, in quotes, then its owner and due date: "
                                         f"{ACTION_USAGE}."})
        if len(owners) != 1:
            which = "Mention the owner" if not owners else "Mention one owner"
            raise InvalidInput({"owner": f"{which}, e.g. {ACTION_USAGE}."})
        if len(dates) > 1:
            raise InvalidInput({"due": f"Give one due date, e.g. {ACTION_USAGE}."})
        return {"what": "log", "title": title, "owner": owners[0], "due": dates[0] if dates else None}


class Show(Command):
    """Not an admin command: `digest [last]` previews, `status`, `team list`/`admin list`; help otherwise."""

    checks_admin_first: ClassVar[bool] = False
    what: Literal["digest", "status", "roster", "help"]
    which: str = ""  # the digest's week: "" (this week so far) or "last"

    @classmethod
    def fields_in(cls, raw, words):
        if words[:1] == ["digest"] and words[1:] in ([], ["last"]):
            return {"what": "digest", "which": " ".join(words[1:])}
        if words == ["status"]:
            return {"what": "status"}
        if words[:1] in (["team"], ["admin"]) and words[1:2] == ["list"]:
            return {"what": "roster"}
        return {"what": "help"}


COMMANDS: dict[str, type[Command]] = {
    "team add": TeamAdd, "team remove": TeamRemove, "team group": TeamGroup, "team sync": TeamSync,
    "admin add": AdminAdd, "pulse schedule": PulseSchedule, "pulse skip": PulseSkip, "pulse unskip": PulseUnskip,
    "timezone": Timezone, "digest post": DigestPost,
    "digest channels": DigestChannels, "digest schedule": DigestSchedule, "export": Export, "forget": Forget,
    "setup": Setup, "action": ActionCommand,
}
_ONE_WORD = ("timezone", "forget", "export", "setup", "action")


def command_named(raw: str) -> type[Command]:
    """Which sub-command the text is, by its first word or two; `Show` for anything else."""
    words = raw.casefold().split()
    name = words[0] if words[:1] and words[0] in _ONE_WORD else " ".join(words[:2])
    return COMMANDS.get(name, Show)


def read_command(raw: str) -> Command:
    """The sub-command the text asks for, with what it needs; InvalidInput says what is missing or wrong."""
    return command_named(raw).read(raw)
