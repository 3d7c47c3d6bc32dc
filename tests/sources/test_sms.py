"""SMS and MMS through Twilio (issue 8): the signed webhooks, incoming texts and MMS, the
opt-out keywords and what they forbid, replies through the Messages API with retries and
Twilio's refusals, status callbacks in any order, and what cannot be used kept with the
reason. Real HTTP: Django's test client for Twilio's requests to us, a fake Twilio API on
loopback for ours. Payloads shaped as https://www.twilio.com/docs/messaging/guides/webhook-request
and the Messages resource document them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.origin import SYSTEM
from inbox import actions
from inbox.actions.messages import AttachmentInput
from inbox.models import Conversation, Message, ProviderEvent, SmsOptOut
from tests.factories import AdminFactory, UserFactory
from tests.fake_provider import FakeProvider

pytestmark = pytest.mark.django_db

ACCOUNT = "AC" + "0123456789abcdef" * 2
OTHER_ACCOUNT = "AC" + "fedcba9876543210" * 2
TOKEN = "d8f7e6c5b4a39281706f5e4d3c2b1a09"
NUMBER = "+15557654321"
CUSTOMER = "+15551230000"
SITE = "https://parley.example.com"
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def twilio_signature(token: str, url: str, params: dict[str, str]) -> str:
    """Written from Twilio's description, independently of the code under test."""
    data = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


class FakeTwilio(FakeProvider):
    def __init__(self) -> None:
        self.sent = 0
        super().__init__(default=self._default)

    def _default(self, request: Any) -> tuple[int, Any, dict[str, str]]:
        if request.method == "POST" and request.path == MESSAGES:
            self.sent += 1
            return (
                201,
                {
                    "sid": f"SM{self.sent:032x}",
                    "account_sid": ACCOUNT,
                    "status": "queued",
                    "num_segments": "1",
                    "direction": "outbound-api",
                    "error_code": None,
                    "error_message": None,
                },
                {},
            )
        return 404, {"code": 20404, "message": "The requested resource was not found"}, {}


@pytest.fixture
def twilio(settings: Any) -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    settings.TWILIO_API_URL = fake.url  # trusted on loopback: it is the configured provider
    settings.SITE_URL = SITE
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    yield fake
    fake.close()


@pytest.fixture
def agent_user() -> Any:
    return UserFactory(name="Ben Agent")


@pytest.fixture
def sms(twilio: FakeTwilio, agent_user: Any) -> Any:
    return actions.create_inbox(
        name="Support SMS",
        kind="sms",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"account_sid": ACCOUNT, "phone_number": NUMBER},
        secrets={"auth_token": TOKEN},
        members=[agent_user],
    )


def incoming(
    body: str = "Hello, is my order shipped?",
    *,
    sid: str = "SM" + "1" * 32,
    sender: str = CUSTOMER,
    to: str = NUMBER,
    account: str = ACCOUNT,
    media: tuple[tuple[str, str], ...] = (),
    **extra: str,
) -> dict[str, str]:
    params = {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": str(len(media)),
        "ToCity": "SAN FRANCISCO",
        "FromZip": "94105",
        "SmsSid": sid,
        "FromState": "CA",
        "SmsStatus": "received",
        "FromCity": "SAN FRANCISCO",
        "Body": body,
        "FromCountry": "US",
        "To": to,
        "ToZip": "94105",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account,
        "From": sender,
        "ApiVersion": "2010-04-01",
        **extra,
    }
    for index, (url, content_type) in enumerate(media):
        params[f"MediaUrl{index}"] = url
        params[f"MediaContentType{index}"] = content_type
    return params


def status_report(sid: str, status: str, *, error_code: str = "", to: str = CUSTOMER) -> dict:
    params = {
        "SmsSid": sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": to,
        "MessageSid": sid,
        "AccountSid": ACCOUNT,
        "From": NUMBER,
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        params["ErrorCode"] = error_code
    return params


def post(
    inbox: Any,
    params: dict[str, str],
    *,
    status: bool = False,
    token: str = TOKEN,
    signed_url: str | None = None,
    signature: str | None = None,
    body: str | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> Any:
    """Twilio's request: to the URL as the test client sends it (http://testserver/…),
    signed for `signed_url` (default: that same URL)."""
    path = f"/sources/sms/{inbox.public_id}/" + ("status/" if status else "")
    url = signed_url or f"http://testserver{path}"
    signature = twilio_signature(token, url, params) if signature is None else signature
    headers = {"HTTP_X_TWILIO_SIGNATURE": signature} if signature else {}
    data = urllib.parse.urlencode(params) if body is None else body
    return Client().post(path, data, content_type=content_type, **headers)


def receive(inbox: Any, run_tasks: Any, *args: Any, **kwargs: Any) -> Message:
    response = post(inbox, incoming(*args, **kwargs))
    assert response.status_code == 200, response.content
    run_tasks()
    return Message.objects.filter(direction="incoming").latest("id")


def reply(
    conversation: Conversation, author: Any, text: str, run_tasks: Any, capture: Any, **kw: Any
) -> Message:
    with capture(execute=True):
        sent = actions.send_reply(conversation=conversation, author=author, text=text, **kw)
    run_tasks()
    sent.refresh_from_db()
    return sent


def run_deferred(run_tasks: Any) -> None:
    """Run the tasks deferred by a retry now, as the worker would once their time comes."""
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_tasks()


# ---------------------------------------------------------------- the webhook


def test_the_signature_is_twilios_published_example() -> None:
    from inbox.sources.sms.twilio import signature

    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert signature("12345", url, list(params.items())) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_a_text_arrives_once_however_often_it_is_delivered(sms, run_tasks) -> None:
    params = incoming("Hello, is my order shipped?")
    first = post(sms, params)
    assert first.status_code == 200
    assert first["Content-Type"].startswith("text/xml")
    assert b"<Response/>" in first.content  # empty TwiML: Twilio sends nothing by itself
    assert post(sms, params).status_code == 200  # Twilio retried
    run_tasks()
    stored = Message.objects.get()
    assert stored.text == "Hello, is my order shipped?"
    assert stored.external_id == params["MessageSid"]
    assert stored.data["twilio"]["from"] == CUSTOMER
    contact = Conversation.objects.get().contact
    assert contact.phone == CUSTOMER
    assert contact.identities.get().value == CUSTOMER
    assert list(ProviderEvent.objects.values_list("status", flat=True)) == ["processed"] * 2


def test_wrong_or_missing_signature_stores_nothing(sms) -> None:
    params = incoming()
    assert post(sms, params, token="not-the-token").status_code == 403
    assert post(sms, params, signature="").status_code == 403
    elsewhere = f"http://testserver/sources/sms/{sms.public_id}/status/"
    assert post(sms, params, signed_url=elsewhere).status_code == 403  # another endpoint's
    tampered = twilio_signature(TOKEN, f"http://testserver/sources/sms/{sms.public_id}/", params)
    assert post(sms, {**params, "Body": "Send me a refund"}, signature=tampered).status_code == 403
    assert ProviderEvent.objects.count() == 0 and Message.objects.count() == 0


def test_malformed_deliveries_are_4xx_never_500(sms) -> None:
    url = f"/sources/sms/{sms.public_id}/"
    signed = twilio_signature(TOKEN, f"http://testserver{url}", {})
    assert (
        post(sms, {}, body='{"MessageSid": "SM1"}', content_type="application/json").status_code
        == 400
    )
    assert post(sms, {}, body="%ff%fe=%c3", signature=signed).status_code == 400  # not UTF-8
    assert post(sms, {}, body="no-equals-sign", signature=signed).status_code == 400
    no_sid = {
        k: v for k, v in incoming().items() if k not in ("MessageSid", "SmsSid", "SmsMessageSid")
    }
    assert post(sms, no_sid).status_code == 400
    assert Client().get(url).status_code == 405
    huge = urllib.parse.urlencode({**incoming(), "Body": "x" * (1024 * 1024)})
    assert post(sms, {}, body=huge, signature="anything").status_code == 413
    other = actions.create_inbox(name="API", kind="api", actor=AdminFactory(), origin=SYSTEM)
    assert post(other, incoming()).status_code == 404
    # The two endpoints do not take each other's deliveries (a misconfigured console).
    assert post(sms, status_report("SM" + "2" * 32, "delivered")).status_code == 400
    assert post(sms, incoming(), status=True).status_code == 400
    assert ProviderEvent.objects.count() == 0


def test_behind_a_proxy_the_public_url_twilio_called_is_accepted(sms, settings, run_tasks) -> None:
    # Twilio called SITE_URL; the request reaches Django as http://testserver.
    public = f"{SITE}/sources/sms/{sms.public_id}/"
    assert post(sms, incoming(), signed_url=public).status_code == 200
    # An inbox may name its own public base URL (a tunnel, another domain).
    sms.settings = {**sms.settings, "public_url": "https://sms.example.net/"}
    sms.save()
    tunnel = f"https://sms.example.net/sources/sms/{sms.public_id}/"
    assert post(sms, incoming(sid="SM" + "3" * 32), signed_url=tunnel).status_code == 200
    # The default port written out is the same URL (Twilio's own validators agree).
    with_port = f"https://sms.example.net:443/sources/sms/{sms.public_id}/"
    assert post(sms, incoming(sid="SM" + "4" * 32), signed_url=with_port).status_code == 200
    run_tasks()
    assert Message.objects.count() == 3


def test_deliveries_for_another_account_or_number_are_kept_unprocessable(sms, run_tasks) -> None:
    post(sms, incoming(account=OTHER_ACCOUNT, sid="SM" + "5" * 32))
    post(sms, incoming(to="+15550009999", sid="SM" + "6" * 32))
    post(sms, incoming(sender="", sid="SM" + "7" * 32))
    run_tasks()
    events = list(ProviderEvent.objects.order_by("id").values_list("status", "error"))
    assert [status for status, _ in events] == ["unprocessable"] * 3
    assert OTHER_ACCOUNT in events[0][1] and "not this inbox's" in events[0][1]
    assert "+15550009999" in events[1][1] and NUMBER in events[1][1]
    assert "no sender" in events[2][1]
    assert Message.objects.count() == 0


def test_a_messaging_service_inbox_takes_any_number_of_its_pool(twilio, run_tasks) -> None:
    service = "MG" + "ab" * 16
    inbox = actions.create_inbox(
        name="Pool",
        kind="sms",
        actor=AdminFactory(),
        origin=SYSTEM,
        settings={"account_sid": ACCOUNT, "messaging_service_sid": service},
        secrets={"auth_token": TOKEN},
    )
    post(inbox, incoming(to="+15550001111", MessagingServiceSid=service))
    post(
        inbox,
        incoming(to="+15550002222", sid="SM" + "8" * 32, MessagingServiceSid="MG" + "cd" * 16),
    )
    run_tasks()
    assert Message.objects.get().data["twilio"]["to"] == "+15550001111"
    assert ProviderEvent.objects.filter(status="unprocessable").count() == 1


# ---------------------------------------------------------------- MMS


def test_an_mms_image_is_downloaded_with_the_accounts_credentials(sms, twilio, run_tasks) -> None:
    media_path = f"/2010-04-01/Accounts/{ACCOUNT}/Messages/MM{'9' * 32}/Media/ME{'1' * 32}"
    twilio.queue(media_path, 200, PNG, {"Content-Type": "image/png"})
    stored = receive(
        sms, run_tasks, "Here is the broken mug", media=((twilio.url + media_path, "image/png"),)
    )
    assert stored.text == "Here is the broken mug"
    [attachment] = stored.attachments.all()
    assert attachment.content_type == "image/png" and attachment.size == len(PNG)
    [fetch] = twilio.calls(media_path, "GET")
    expected = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    assert fetch.headers["authorization"] == f"Basic {expected}"


def test_media_that_cannot_be_downloaded_leaves_a_placeholder_and_the_raw_request(
    sms, twilio, run_tasks, settings
) -> None:
    settings.MESSAGING_MEDIA_MAX_BYTES = 16
    big = twilio.serve("/media/big.jpg", b"x" * 1024, "image/jpeg")
    stored = receive(sms, run_tasks, "", sid="SM" + "a" * 32, media=((big, "image/jpeg"),))
    assert stored.text.startswith("[Photo not downloaded:") and "limit" in stored.text
    assert stored.attachments.count() == 0
    assert stored.data["twilio"]["raw"]["MediaUrl0"] == big

    settings.MESSAGING_MEDIA_MAX_BYTES = 1024 * 1024
    page = twilio.serve("/media/page", b"<html>Sign in</html>", "text/html")
    stored = receive(sms, run_tasks, "see pic", sid="SM" + "b" * 32, media=((page, "image/jpeg"),))
    assert stored.text.startswith("see pic\n[Photo not downloaded:")
    assert "text/html" in stored.text


def test_media_on_a_private_address_that_is_not_twilio_is_refused(sms, twilio, run_tasks) -> None:
    twilio.serve("/media/secret.png", PNG, "image/png")
    # The same loopback server under another name: not the configured provider host.
    port = urllib.parse.urlsplit(twilio.url).port
    sneaky = f"http://localhost:{port}/media/secret.png"
    stored = receive(sms, run_tasks, "look", media=((sneaky, "image/png"),))
    assert stored.attachments.count() == 0
    assert "[Photo not downloaded: Refused to call localhost" in stored.text
    assert "loopback" in stored.text
    assert twilio.calls("/media/secret.png") == []  # nothing asked, no credentials sent


# ---------------------------------------------------------------- opt-out


def test_stop_opts_out_and_replies_are_refused_until_start(
    sms, twilio, run_tasks, agent_user, api, django_capture_on_commit_callbacks
) -> None:
    receive(sms, run_tasks, "Hi", sid="SM" + "c" * 32)
    conversation = Conversation.objects.get()
    actions.set_status(conversation=conversation, status="resolved", actor=agent_user)
    stop = receive(sms, run_tasks, "Stop", sid="SM" + "d" * 32)
    assert stop.text == "Stop" and stop.data["twilio"]["keyword"] == "STOP"  # agents see it
    assert SmsOptOut.objects.filter(inbox=sms, phone=CUSTOMER, keyword="STOP").exists()
    conversation.refresh_from_db()
    assert conversation.status == "resolved"  # "STOP" asks nothing of agents
    activity = Message.objects.filter(kind="activity", data__verb="sms_opt_out").get()
    assert "Opted out of SMS from this inbox (STOP)" in activity.text

    with pytest.raises(actions.InboxError) as refused:
        actions.send_reply(conversation=conversation, author=agent_user, text="Sorry to see you go")
    assert "opted out" in refused.value.message
    answer = api(agent_user).post(
        f"/api/v1/conversations/{conversation.pk}/messages/", {"text": "Hello?"}, format="json"
    )
    assert answer.status_code == 400 and "opted out" in answer.content.decode()
    assert twilio.calls(MESSAGES) == []

    receive(sms, run_tasks, "START", sid="SM" + "e" * 32)
    assert not SmsOptOut.objects.filter(inbox=sms).exists()
    assert Message.objects.filter(kind="activity", data__verb="sms_opt_in").exists()
    sent = reply(
        conversation, agent_user, "Welcome back!", run_tasks, django_capture_on_commit_callbacks
    )
    assert sent.delivery_status == "sent"
    assert twilio.calls(MESSAGES)[-1].form["Body"] == ["Welcome back!"]


def test_a_number_that_opts_out_after_the_reply_was_queued_is_not_sent_to(
    sms, twilio, run_tasks, agent_user, django_capture_on_commit_callbacks
) -> None:
    from inbox.actions.platform import set_sms_opt_out

    receive(sms, run_tasks, "Hi")
    conversation = Conversation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        queued = actions.send_reply(conversation=conversation, author=agent_user, text="Hello!")
    set_sms_opt_out(inbox=sms, phone=CUSTOMER, opted_out=True, keyword="STOP")
    run_tasks()
    queued.refresh_from_db()
    assert queued.delivery_status == "failed"
    assert "opted out of messages from this inbox" in queued.delivery_error
    assert twilio.calls(MESSAGES) == []


def test_advanced_opt_out_keywords_and_help(sms, run_tasks) -> None:
    # A messaging service's own keyword (Advanced Opt-Out) comes with OptOutType.
    receive(sms, run_tasks, "Arrêt", sid="SM" + "f" * 32, OptOutType="STOP")
    assert SmsOptOut.objects.filter(inbox=sms, phone=CUSTOMER, keyword="ARRÊT").exists()
    receive(sms, run_tasks, "yes", sid="SM" + "0" * 31 + "1")
    assert not SmsOptOut.objects.filter(inbox=sms).exists()
    # HELP is an ordinary message (Twilio answers it; a person may need help too).
    help_message = receive(sms, run_tasks, "HELP", sid="SM" + "0" * 31 + "2")
    assert help_message.data["twilio"]["keyword"] == "HELP"
    assert Conversation.objects.get().waiting_since is not None
    # "Yes" from a number that never opted out is an answer, not a keyword to act on.
    answer = receive(sms, run_tasks, "Yes", sid="SM" + "0" * 31 + "3")
    assert answer.data["twilio"]["keyword"] == "START"
    assert Message.objects.filter(kind="activity", data__verb="sms_opt_in").count() == 1


def test_twilio_refusing_an_unsubscribed_number_records_the_opt_out(
    sms, twilio, run_tasks, agent_user, django_capture_on_commit_callbacks
) -> None:
    receive(sms, run_tasks, "Hi")
    conversation = Conversation.objects.get()
    twilio.queue(
        MESSAGES,
        400,
        {
            "code": 21610,
            "message": "Attempt to send to unsubscribed recipient",
            "more_info": "https://www.twilio.com/docs/errors/21610",
            "status": 400,
        },
    )
    sent = reply(
        conversation,
        agent_user,
        "Your order shipped",
        run_tasks,
        django_capture_on_commit_callbacks,
    )
    assert sent.delivery_status == "failed"
    assert "(21610) Attempt to send to unsubscribed recipient" in sent.delivery_error
    assert SmsOptOut.objects.filter(inbox=sms, phone=CUSTOMER, keyword="Twilio 21610").exists()
    assert len(twilio.calls(MESSAGES)) == 1  # not retried


# ---------------------------------------------------------------- replies


def test_a_reply_is_sent_through_the_messages_api(
    sms, twilio, run_tasks, agent_user, django_capture_on_commit_callbacks
) -> None:
    receive(sms, run_tasks, "Hi")
    conversation = Conversation.objects.get()
    sent = reply(
        conversation,
        agent_user,
        "Your order ships today €5 off",
        run_tasks,
        django_capture_on_commit_callbacks,
    )
    assert sent.delivery_status == "sent" and sent.delivery_error == ""
    assert sent.external_id == f"SM{1:032x}"
    [call] = twilio.calls(MESSAGES)
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    credentials = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    assert call.headers["authorization"] == f"Basic {credentials}"
    assert call.form == {
        "To": [CUSTOMER],
        "From": [NUMBER],
        "Body": ["Your order ships today €5 off"],
        "StatusCallback": [f"{SITE}/sources/sms/{sms.public_id}/status/"],
    }
    assert sent.data["sms"]["segments"] == 1 and sent.data["sms"]["encoding"] == "GSM-7"
    emoji = reply(
        conversation, agent_user, "Thanks 🙏 " * 10, run_tasks, django_capture_on_commit_callbacks
    )
    assert emoji.data["sms"] == {"segments": 2, "encoding": "UCS-2", "twilio_segments": 1}


def test_rate_limits_and_server_errors_are_retried_then_it_goes_through(
    sms, twilio, run_tasks, agent_user, django_capture_on_commit_callbacks
) -> None:
    receive(sms, run_tasks, "Hi")
    conversation = Conversation.objects.get()
    twilio.queue(
        MESSAGES,
        429,
        {"code": 20429, "message": "Too Many Requests", "more_info": "", "status": 429},
        {"Retry-After": "90"},
    )
    twilio.queue(MESSAGES, 503, b"Service Unavailable", {"Content-Type": "text/plain"})
    sent = reply(
        conversation, agent_user, "On its way", run_tasks, django_capture_on_commit_callbacks
    )
    assert sent.delivery_status == "queued"
    retry = DBTaskResult.objects.get(status="READY")
    assert (retry.run_after - timezone.now()).total_seconds() > 80  # Retry-After honoured
    run_deferred(run_tasks)
    sent.refresh_from_db()
    assert (
        sent.delivery_status == "queued" and sent.data["delivery_last_error"] == "Twilio: HTTP 503"
    )
    run_deferred(run_tasks)
    sent.refresh_from_db()
    assert sent.delivery_status == "sent" and sent.data["delivery_attempts"] == 3
    assert len(twilio.calls(MESSAGES)) == 3


def test_a_permanent_error_is_shown_on_the_message_with_twilios_words(
    sms, twilio, run_tasks, agent_user, django_capture_on_commit_callbacks
) -> None:
    receive(sms, run_tasks, "Hi")
    conversation = Conversation.objects.get()
    twilio.queue(
        MESSAGES,
        400,
        {
            "code": 21211,
            "message": "The 'To' number +15551230000 is not a valid phone number.",
            "more_info": "https://www.twilio.com/docs/errors/21211",
            "status": 400,
        },
    )
    sent = reply(conversation, agent_user, "Hello", run_tasks, django_capture_on_commit_callbacks)
    assert sent.delivery_status == "failed"
    assert sent.delivery_error == (
        "Twilio refused it: (21211) The 'To' number +15551230000 is not a valid phone number."
    )
    assert len(twilio.calls(MESSAGES)) == 1


def test_a_body_over_twilios_limit_is_refused_before_calling(
    sms, twilio, run_tasks, agent_user, django_capture_on_commit_callbacks
) -> None:
    receive(sms, run_tasks, "Hi")
    conversation = Conversation.objects.get()
    sent = reply(
        conversation, agent_user, "x" * 1601, run_tasks, django_capture_on_commit_callbacks
    )
    assert sent.delivery_status == "failed"
    assert "limited to 1600 characters; this one has 1601" in sent.delivery_error
    assert twilio.calls(MESSAGES) == []


def test_an_mms_reply_links_its_file_under_a_signed_expiring_url(
    sms, twilio, run_tasks, agent_user, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    receive(sms, run_tasks, "Hi")
    conversation = Conversation.objects.get()
    photo = AttachmentInput("label.png", "image/png", PNG)
    sent = reply(
        conversation,
        agent_user,
        "Your label",
        run_tasks,
        django_capture_on_commit_callbacks,
        attachments=[photo],
    )
    assert sent.delivery_status == "sent"
    [link] = twilio.calls(MESSAGES)[0].form["MediaUrl"]
    assert link.startswith(f"{SITE}/sources/sms/{sms.public_id}/media/")
    path = urllib.parse.urlsplit(link).path
    fetched = Client().get(path)  # Twilio, signed in nowhere
    assert fetched.status_code == 200 and fetched["Content-Type"] == "image/png"
    assert b"".join(fetched.streaming_content) == PNG
    assert fetched["Content-Security-Policy"] == "sandbox"
    assert Client().get(path[:-3] + "abc").status_code == 404  # tampered token
    other = actions.create_inbox(
        name="Other", kind="sms", actor=AdminFactory(), origin=SYSTEM, settings={}, secrets={}
    )
    assert Client().get(path.replace(str(sms.public_id), str(other.public_id))).status_code == 404
    # A customer's file is never served, even with a valid signature for it.
    from inbox.sources.sms.media_links import media_link

    twilio.serve("/media/in.png", PNG, "image/png")
    incoming_message = receive(
        sms,
        run_tasks,
        "",
        sid="SM" + "9" * 32,
        media=((twilio.url + "/media/in.png", "image/png"),),
    )
    theirs = media_link(sms, incoming_message.attachments.get())
    assert Client().get(urllib.parse.urlsplit(theirs).path).status_code == 404
    monkeypatch.setattr("inbox.sources.sms.media_links.LINK_MAX_AGE", -1)
    assert Client().get(path).status_code == 404  # expired


# ---------------------------------------------------------------- status callbacks


def sent_message(sms, run_tasks, agent_user, capture) -> Message:
    receive(sms, run_tasks, "Hi")
    return reply(Conversation.objects.get(), agent_user, "Hello", run_tasks, capture)


def report(sms, run_tasks, sid: str, status: str, **kwargs: Any) -> None:
    signed = f"{SITE}/sources/sms/{sms.public_id}/status/"  # the StatusCallback we gave
    response = post(sms, status_report(sid, status, **kwargs), status=True, signed_url=signed)
    assert response.status_code == 204, response.content
    run_tasks()


def test_status_callbacks_move_the_message_along_in_any_order(
    sms, run_tasks, agent_user, django_capture_on_commit_callbacks
) -> None:
    message = sent_message(sms, run_tasks, agent_user, django_capture_on_commit_callbacks)
    sid = message.external_id
    report(sms, run_tasks, sid, "delivered")
    report(sms, run_tasks, sid, "sent")  # late: never moves it back
    report(sms, run_tasks, sid, "sending")
    message.refresh_from_db()
    assert message.delivery_status == "delivered"
    report(sms, run_tasks, sid, "read")
    report(sms, run_tasks, sid, "delivered")
    message.refresh_from_db()
    assert message.delivery_status == "read"


def test_an_undelivered_report_fails_the_message_with_the_reason(
    sms, run_tasks, agent_user, django_capture_on_commit_callbacks
) -> None:
    message = sent_message(sms, run_tasks, agent_user, django_capture_on_commit_callbacks)
    report(sms, run_tasks, message.external_id, "undelivered", error_code="30003")
    message.refresh_from_db()
    assert message.delivery_status == "failed"
    assert message.delivery_error == (
        "Twilio reports it undelivered: (30003) "
        "Unreachable destination handset (off or out of coverage)"
    )


def test_a_failed_report_with_21610_opts_the_number_out(
    sms, run_tasks, agent_user, django_capture_on_commit_callbacks
) -> None:
    message = sent_message(sms, run_tasks, agent_user, django_capture_on_commit_callbacks)
    report(sms, run_tasks, message.external_id, "failed", error_code="21610")
    message.refresh_from_db()
    assert message.delivery_status == "failed" and "(21610)" in message.delivery_error
    assert SmsOptOut.objects.filter(inbox=sms, phone=CUSTOMER).exists()


def test_a_status_for_an_unknown_message_is_retried_then_kept_unprocessable(sms, run_tasks) -> None:
    report(sms, run_tasks, "SM" + "e" * 32, "delivered")
    event = ProviderEvent.objects.get()
    assert event.status == "pending" and event.error.startswith("Waiting: No message sent")
    for _ in range(4):
        run_deferred(run_tasks)
    event.refresh_from_db()
    assert event.status == "unprocessable"
    assert "gave up after 5 attempts" in event.error


# ---------------------------------------------------------------- setup


def test_test_connection_names_the_account_and_checks_the_number(sms, twilio) -> None:
    from inbox.sources.setup import ConnectionProblem, setup_for

    setup = setup_for("sms")
    assert setup is not None and setup.webhook_url_name == "sms:webhook"
    webhook = f"{SITE}/sources/sms/{sms.public_id}/"
    account_path = f"/2010-04-01/Accounts/{ACCOUNT}.json"
    numbers_path = f"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers.json"
    twilio.queue(account_path, 200, {"sid": ACCOUNT, "friendly_name": "Acme", "status": "active"})
    twilio.queue(
        numbers_path,
        200,
        {
            "incoming_phone_numbers": [
                {"phone_number": NUMBER, "sms_url": webhook, "capabilities": {"sms": True}}
            ]
        },
    )
    line = setup.test_connection(sms, webhook)
    assert line.startswith(f"Connected to Twilio account “Acme”; {NUMBER} is in it")
    assert twilio.calls(numbers_path)[0].query == {"PhoneNumber": [NUMBER]}

    twilio.queue(account_path, 200, {"sid": ACCOUNT, "friendly_name": "Acme", "status": "active"})
    twilio.queue(
        numbers_path, 200, {"incoming_phone_numbers": [{"phone_number": NUMBER, "sms_url": ""}]}
    )
    assert f"set it to {webhook}" in setup.test_connection(sms, webhook)

    twilio.queue(account_path, 200, {"sid": ACCOUNT, "friendly_name": "Acme", "status": "active"})
    twilio.queue(numbers_path, 200, {"incoming_phone_numbers": []})
    with pytest.raises(
        ConnectionProblem, match=f"{NUMBER.replace('+', '[+]')} is not one of its numbers"
    ):
        setup.test_connection(sms, webhook)

    twilio.queue(account_path, 401, {"code": 20003, "message": "Authenticate", "status": 401})
    with pytest.raises(ConnectionProblem, match=r"did not accept .*\(20003\) Authenticate"):
        setup.test_connection(sms, webhook)

    sms.settings = {**sms.settings, "account_sid": "AC123"}
    with pytest.raises(ConnectionProblem, match="AC followed by 32"):
        setup.test_connection(sms, webhook)


def test_an_admin_sets_the_inbox_up_on_its_page(twilio, admin_web, agent_web) -> None:
    from inbox.models import Inbox

    assert agent_web.get("/settings/inboxes/new/sms/").status_code in (302, 403)
    page = admin_web.get("/settings/inboxes/new/sms/")
    assert page.status_code == 200 and b"Account SID" in page.content
    created = admin_web.post(
        "/settings/inboxes/new/sms/",
        {
            "name": "Text us",
            "account_sid": ACCOUNT,
            "auth_token": TOKEN,
            "phone_number": " +1 (555) 765-4321 ",
        },
    )
    inbox = Inbox.objects.get(kind="sms")
    assert created.status_code == 302, created.content
    assert inbox.get_secrets()["auth_token"] == TOKEN
    html = admin_web.get(f"/settings/inboxes/{inbox.pk}/messaging/").content.decode()
    webhook = f"{SITE}/sources/sms/{inbox.public_id}/"
    assert webhook in html and TOKEN not in html  # the URL to paste; the token never shown
    twilio.queue(f"/2010-04-01/Accounts/{ACCOUNT}.json", 200, {"friendly_name": "Acme"})
    twilio.queue(
        f"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers.json",
        200,
        {"incoming_phone_numbers": [{"phone_number": NUMBER, "sms_url": webhook}]},
    )
    passed = admin_web.post(f"/settings/inboxes/{inbox.pk}/messaging/test/", follow=True)
    assert (
        f"Connected to Twilio account “Acme”; {NUMBER} is in it and its incoming messages "
        "come here." in passed.content.decode()
    )
