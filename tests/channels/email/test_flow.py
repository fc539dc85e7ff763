"""Email in, one reply out: through the signed webhook, the inbox, a real worker, fake Mailgun."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.channels.email.conftest import (
    Inbound,
    Worker,
    execute,
    inbound_rows,
    post_inbound,
    sent_log,
    signature,
)
from tests.fakes.mailgun_server import FakeMailgun

from sivug.books.importers.hs_builtin import load_hs2022
from sivug.channels.email.endpoints import dev_outbox_router
from sivug.channels.email.service import format_code
from sivug.engine import Engine
from sivug.platform.config import Settings


async def test_a_known_sender_gets_one_threaded_reply_with_the_codes(
    webhook_client: httpx.AsyncClient, worker: Worker, mailgun: FakeMailgun, seeded: AsyncEngine
) -> None:
    email = Inbound(
        text="Hi,\n\nPlease classify these:\nmen's cotton t-shirts\nleather handbag\n\n"
        "Thanks,\nDana\nDemo Imports Ltd\n+972 3 555 1234\n",
        subject="HS codes please",
    )
    response = await post_inbound(webhook_client, email)
    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}

    await worker.drain()

    replies = mailgun.messages_to("demo@example.com")
    assert len(replies) == 1
    reply = replies[0]
    assert reply.subject == "Re: HS codes please"
    assert reply.header("In-Reply-To") == email.message_id
    assert email.message_id in reply.header("References")
    [row] = await inbound_rows(seeded)
    # greeting, instruction, closing and signature are not items
    assert [item["description"] for item in row.items] == [
        "men's cotton t-shirts",
        "leather handbag",
    ]
    for item in row.items:
        assert item["status"] == "classified"
        assert str(format_code(item["code"])) in reply.html
        assert str(format_code(item["code"])) in reply.text
        assert item["official"].rsplit(" > ", 1)[-1] in reply.text
    assert row.organization_id == "org_demo"
    assert row.user_id == "user_demo"
    [logged] = await sent_log(seeded)
    assert logged.status == "sent"
    assert logged.sent_at is not None
    assert logged.provider_id == reply.id


async def test_duplicate_deliveries_are_acknowledged_and_not_answered_twice(
    webhook_client: httpx.AsyncClient, worker: Worker, mailgun: FakeMailgun, seeded: AsyncEngine
) -> None:
    email = Inbound(text="wooden dining chair\n")
    first = await post_inbound(webhook_client, email)
    await worker.drain()
    again = await post_inbound(webhook_client, email)  # Mailgun retrying, new token
    await worker.drain()

    assert first.json() == {"status": "accepted"}
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert len(mailgun.messages_to("demo@example.com")) == 1
    assert len(await inbound_rows(seeded)) == 1


async def test_an_unknown_sender_gets_one_polite_reply_and_then_silence(
    webhook_client: httpx.AsyncClient, worker: Worker, mailgun: FakeMailgun, seeded: AsyncEngine
) -> None:
    for _ in range(3):
        await post_inbound(
            webhook_client, Inbound(sender="stranger@elsewhere.org", text="steel bolts\n")
        )
    await worker.drain()

    replies = mailgun.messages_to("stranger@elsewhere.org")
    assert len(replies) == 1
    assert "could not match" in replies[0].text
    assert "6109" not in replies[0].text  # nothing was classified for a stranger
    statuses = sorted(row.status for row in await inbound_rows(seeded))
    assert statuses == ["rate_limited", "rate_limited", "unknown_sender"]


async def test_unknown_senders_of_one_domain_are_limited_together(
    webhook_client: httpx.AsyncClient, worker: Worker, mailgun: FakeMailgun
) -> None:
    for i in range(8):  # a forged sender rotating addresses on one domain
        await post_inbound(webhook_client, Inbound(sender=f"user{i}@spam.example.net", text="x"))
    await worker.drain()

    answered = [m for m in mailgun.sent if m.to[0].endswith("@spam.example.net")]
    assert len(answered) == 5


async def test_a_member_of_an_allowed_domain_is_served_without_a_user_account(
    webhook_client: httpx.AsyncClient, worker: Worker, mailgun: FakeMailgun, seeded: AsyncEngine
) -> None:
    await post_inbound(webhook_client, Inbound(sender="buyer@example.com", text="frozen shrimp"))
    await worker.drain()

    assert len(mailgun.messages_to("buyer@example.com")) == 1
    [row] = await inbound_rows(seeded)
    assert row.organization_id == "org_demo"
    assert row.user_id is None


async def test_more_than_twenty_items_come_back_in_one_reply_with_a_csv(
    webhook_client: httpx.AsyncClient, worker: Worker, mailgun: FakeMailgun
) -> None:
    products = [
        "cotton t-shirts",
        "leather handbag",
        "plastic bottles",
        "rubber tyres for cars",
        "olive oil",
        "wooden chair",
        "steel screws",
        "laptop computer",
        "frozen shrimp",
        "wool sweater",
        "glass vase",
        "ceramic plates",
        "paper napkins",
        "copper wire",
        "aluminium foil",
        "silk scarf",
        "leather shoes",
        "plastic toys",
        "bicycle",
        "tea bags",
        "roasted coffee beans",
        "chocolate bars",
        "cotton towels",
        "wrist watch",
        "sunglasses",
    ]
    await post_inbound(webhook_client, Inbound(text="\n".join(products)))
    await worker.drain()

    [reply] = mailgun.messages_to("demo@example.com")
    assert len(reply.files) == 1
    _, filename, content = reply.files[0]
    assert filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    assert [r["description"] for r in rows] == products
    assert "all 25 are in the attached file" in reply.text


async def test_an_answer_to_the_questions_continues_the_session(
    webhook_client: httpx.AsyncClient, worker: Worker, mailgun: FakeMailgun, seeded: AsyncEngine
) -> None:
    engine = Engine(load_hs2022())  # an item the engine asks about today
    candidates = ["chair", "tea", "laptop computer", "shirts", "fish", "steel screws"]
    vague = next(d for d in candidates if engine.classify(d, None).status == "needs_info")
    await post_inbound(webhook_client, Inbound(text=f"{vague}\n", subject="screws"))
    await worker.drain()
    [first] = mailgun.messages_to("demo@example.com")
    assert "Questions" in first.text
    question_line = next(line for line in first.text.splitlines() if line.startswith("1. (item"))
    assert question_line

    answer = Inbound(
        text="1: 1\n\nOn Sat, Sivug wrote:\n> 1. (item 1) ...\n",
        subject="Re: screws",
        in_reply_to=first.header("Message-Id"),
        references=first.header("Message-Id"),
    )
    await post_inbound(webhook_client, answer)
    await worker.drain()

    replies = mailgun.messages_to("demo@example.com")
    assert len(replies) == 2
    second = replies[1]
    assert second.header("In-Reply-To") == answer.message_id
    assert "updated results" in second.text
    rows = await inbound_rows(seeded)
    assert rows[1].status == "continued"
    before, after = rows[0].items[0], rows[1].items[0]
    assert before["session_id"] == after["session_id"]
    assert len(str(after["code"])) > len(str(before["code"]))  # one level deeper


async def test_a_hebrew_speaking_user_gets_a_right_to_left_reply(
    webhook_client: httpx.AsyncClient, worker: Worker, mailgun: FakeMailgun, seeded: AsyncEngine
) -> None:
    await execute(seeded, "UPDATE users SET language = 'he' WHERE id = 'user_demo'")
    await execute(
        seeded,
        "UPDATE organizations SET brand_name = 'Demo Imports', brand_color = '#aa3300' "
        "WHERE id = 'org_demo'",
    )
    await post_inbound(webhook_client, Inbound(text="שלום,\nחולצת טריקו מכותנה לגברים\nתודה"))
    await worker.drain()

    [reply] = mailgun.messages_to("demo@example.com")
    assert 'dir="rtl"' in reply.html
    assert "להלן תוצאות" in reply.text
    assert "Demo Imports" in reply.html
    assert "#aa3300" in reply.html


async def test_delivery_events_update_the_log_and_a_bounce_blocks_later_sends(
    webhook_client: httpx.AsyncClient, worker: Worker, mailgun: FakeMailgun, seeded: AsyncEngine
) -> None:
    await post_inbound(webhook_client, Inbound(text="glass vase"))
    await worker.drain()
    [reply] = mailgun.messages_to("demo@example.com")

    def event(kind: str, **extra: object) -> bytes:
        data = {
            "event": kind,
            "id": uuid.uuid4().hex,
            "timestamp": time.time(),
            "recipient": "demo@example.com",
            "message": {"headers": {"message-id": reply.id}},
            "user-variables": {},
            **extra,
        }
        return json.dumps({"signature": signature(), "event-data": data}).encode()

    for body in (event("delivered"), event("opened"), event("clicked")):
        response = await webhook_client.post(
            "/webhooks/mailgun/events", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200
    await worker.drain()
    [logged] = await sent_log(seeded)
    assert logged.status == "clicked"
    assert logged.opened_at is not None
    assert logged.clicked_at is not None

    bounce = event(
        "failed",
        severity="permanent",
        reason="bounce",
        **{"delivery-status": {"code": 550, "message": "mailbox unavailable"}},
    )
    await webhook_client.post(
        "/webhooks/mailgun/events", content=bounce, headers={"Content-Type": "application/json"}
    )
    await worker.drain()
    [logged] = await sent_log(seeded)
    assert logged.status == "failed"

    await post_inbound(webhook_client, Inbound(text="ceramic plates"))
    await worker.drain()
    assert len(mailgun.messages_to("demo@example.com")) == 1  # the bounced address is suppressed
    statuses = [m.status for m in await sent_log(seeded)]
    assert statuses == ["failed", "suppressed"]


async def test_a_send_that_may_have_reached_mailgun_is_not_sent_again(
    webhook_client: httpx.AsyncClient, worker: Worker, mailgun: FakeMailgun, seeded: AsyncEngine
) -> None:
    """Mailgun accepts the message but the answer is lost (a 500): the retry asks the events
    API instead of sending a second copy."""
    from tests.fakes.mailgun_server import Scripted

    await post_inbound(webhook_client, Inbound(text="paper napkins"))
    mailgun.script(Scripted(status=500, path_prefix="/v3/mg.sivug.test/messages"))
    await worker.drain()  # the send fails ambiguously: left "sending", retried later
    [logged] = await sent_log(seeded)
    assert logged.status == "sending"
    # Nothing reached the fake (the scripted 500 came first): the retry must send it.
    await execute(seeded, "UPDATE procrastinate_jobs SET scheduled_at = now()")
    await worker.drain()
    assert len(mailgun.messages_to("demo@example.com")) == 1
    [logged] = await sent_log(seeded)
    assert logged.status == "sent"


async def test_auto_replies_and_bounces_are_never_answered(
    webhook_client: httpx.AsyncClient, worker: Worker, mailgun: FakeMailgun, seeded: AsyncEngine
) -> None:
    await post_inbound(
        webhook_client,
        Inbound(text="I am out of office", extra_headers=[("Auto-Submitted", "auto-replied")]),
    )
    await post_inbound(
        webhook_client, Inbound(sender="mailer-daemon@example.com", text="Delivery failed")
    )
    await worker.drain()

    assert mailgun.sent == []
    assert [row.status for row in await inbound_rows(seeded)] == ["ignored", "ignored"]


async def test_a_complaint_suppresses_the_address(
    webhook_client: httpx.AsyncClient, worker: Worker, mailgun: FakeMailgun, seeded: AsyncEngine
) -> None:
    await post_inbound(webhook_client, Inbound(text="silk scarf"))
    await worker.drain()
    [reply] = mailgun.sent
    data = {
        "event": "complained",
        "id": uuid.uuid4().hex,
        "timestamp": time.time(),
        "recipient": "demo@example.com",
        "message": {"headers": {"message-id": reply.id}},
    }
    body = json.dumps({"signature": signature(), "event-data": data}).encode()
    await webhook_client.post(
        "/webhooks/mailgun/events", content=body, headers={"Content-Type": "application/json"}
    )
    await worker.drain()
    await post_inbound(webhook_client, Inbound(text="tea bags"))
    await worker.drain()

    assert len(mailgun.sent) == 1
    assert [m.status for m in await sent_log(seeded)] == ["complained", "suppressed"]


async def test_the_development_outbox_lists_sent_mail_and_shows_each_body(
    webhook_client: httpx.AsyncClient, worker: Worker, seeded: AsyncEngine
) -> None:
    await post_inbound(webhook_client, Inbound(text="wool sweater", subject="Sweaters"))
    await worker.drain()
    [logged] = await sent_log(seeded)

    page = await webhook_client.get("/dev/outbox")
    assert page.status_code == 200
    assert "Re: Sweaters" in page.text
    assert f'href="/dev/outbox/{logged.id}"' in page.text
    body = await webhook_client.get(f"/dev/outbox/{logged.id}")
    assert body.text == logged.html
    missing = await webhook_client.get("/dev/outbox/999999")
    assert missing.status_code == 404


def test_the_development_outbox_does_not_exist_outside_local_mode(
    mail_settings: Settings,
) -> None:
    staging = mail_settings.model_copy(update={"env": "staging"})
    assert dev_outbox_router(staging).routes == []
    assert len(dev_outbox_router(mail_settings).routes) == 3
