"""How many people get a pulse DM twice when Slack posts and then answers 5xx, or a worker dies after posting.

Opens one pulse round for `--members` people on a fresh SQLite database (or a throwaway schema of
`--database-url` PostgreSQL) against the tests' fake Slack, then delivers through the real outbox until
every message is sent, moving the outbox's clock an hour between passes so every retry is due.

  faults  `--fault-rate` of chat.postMessage calls land in the DM and then answer HTTP 500.
  crash   the worker dies (an exception the outbox can't catch) right after Slack posted the
          `--crash-after`th DM, before recording it; a new worker takes over once the lease expired.

For each it prints the DMs that landed, the people who got more than one, and the extra DMs.

    python bench/outbox_duplicates.py
    python bench/outbox_duplicates.py --members 1000 --fault-rate 0.3
    python bench/outbox_duplicates.py --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests` is not an installed package


from bench.databases import fresh_database  # noqa: E402
from bot.container import Crossfeed  # noqa: E402
from bot.outbox import Outbox  # noqa: E402
from bot.pulse import open_due_round, queue_due_prompts  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage.outbox import QUEUED  # noqa: E402
from tests.fake_slack import FakeSlackServer  # noqa: E402
from tests.helpers import OPENING, make_teams  # noqa: E402


class Crash(BaseException):
    """The worker dying: not an exception the outbox could catch."""


def start(database_url: str, fake: FakeSlackServer) -> Crossfeed:
    return Crossfeed.start(Settings(_env_file=None, slack_bot_token="xoxb-bench", slack_signing_secret="x",
                                    slack_api_url=fake.url, database_url=database_url))


def open_round(crossfeed: Crossfeed, members: int) -> list[str]:
    half = members // 2
    sales, marketing = [f"US{i:05d}" for i in range(half)], [f"UM{i:05d}" for i in range(members - half)]
    make_teams(crossfeed, sales=sales, marketing=marketing)
    with crossfeed.transaction() as session:  # what the clock's pulse job does at the opening
        open_due_round(session=session, team_id="T1", now=OPENING)
        queued = queue_due_prompts(session=session, now=OPENING)
        # One sender, the bench's, on its moved clock: a background pass on the real clock would take the bench's
        # claims (made at OPENING) for ones held past their lease, and send them beside it.
        session.info.pop(QUEUED, None)
    # The bench measures nothing if no prompt was queued (it printed "0 DMs landed" once the opening and the
    # prompts became two steps).
    assert queued == members, f"{queued} prompts queued for {members} people"
    return sales + marketing


def deliver_everything(crossfeed: Crossfeed, passes: int = 12) -> None:
    for number in range(passes):
        moment = OPENING + timedelta(hours=number)
        crossfeed.outbox.clock = lambda moment=moment: moment
        if crossfeed.outbox.deliver_due().sent == 0 and number > 0:
            return


def count(fake: FakeSlackServer, people: list[str]) -> str:
    landed = [len(fake.history.get("D" + person, [])) for person in people]
    twice = sum(1 for n in landed if n > 1)
    return (f"{sum(landed):5d} DMs landed for {len(people)} people, {twice} people got 2+, "
            f"{sum(n - 1 for n in landed if n > 1)} extra DMs")


def faults(database_url: str, members: int, rate: float) -> str:
    fake = FakeSlackServer().start()
    try:
        fake.script.fail_randomly("chat.postMessage", rate, status=500, done_first=True, seed=7)
        crossfeed = start(database_url, fake)
        try:
            people = open_round(crossfeed, members)
            deliver_everything(crossfeed)
        finally:
            crossfeed.close()
        return f"faults {rate:.0%}: " + count(fake, people) + f" ({len(fake.done_before_failing)} posted-then-500)"
    finally:
        fake.stop()


def crash(database_url: str, members: int, after: int) -> str:
    fake = FakeSlackServer().start()
    real_send, posted = Outbox._send, []

    def post_then_die(self, post, *args):
        if len(posted) >= after:
            raise Crash
        sent = real_send(self, post, *args)
        posted.append(post.channel)
        if len(posted) == after:
            raise Crash
        return sent

    try:
        dying = start(database_url, fake)
        people = open_round(dying, members)
        Outbox._send = post_then_die
        try:
            deliver_everything(dying)
        except Crash:
            pass
        finally:
            Outbox._send = real_send
            dying.close()
        restarted = start(database_url, fake)
        try:
            deliver_everything(restarted)
        finally:
            restarted.close()
        return f"crash after post {after}: " + count(fake, people)
    finally:
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--crash-after", type=int, default=120)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    with fresh_database(args.database_url) as url:
        print(faults(url, args.members, args.fault_rate))
    with fresh_database(args.database_url) as url:
        print(crash(url, args.members, args.crash_after))


if __name__ == "__main__":
    main()
