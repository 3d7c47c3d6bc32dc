"""What the setup page of an SMS inbox asks for, and "test connection": Twilio's account
(`GET /2010-04-01/Accounts/{sid}.json`) and, when a number is given, that the number is in
it and can receive SMS (`GET …/IncomingPhoneNumbers.json?PhoneNumber=`), saying where its
incoming messages go now when that is not Parley."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from inbox.models import Inbox
from inbox.sources.http import DeliveryRefused, TransientError, call
from inbox.sources.setup import ConnectionProblem, SetupField, SourceSetup
from inbox.sources.sms.twilio import TwilioAccount, api_error


def _get(account: TwilioAccount, path: str) -> dict[str, Any]:
    try:
        answer = call(
            account.api_url(path), None, account.headers(), method="GET", trust_providers=True
        )
    except (DeliveryRefused, TransientError) as exc:
        raise ConnectionProblem(f"Could not reach Twilio: {exc}") from exc
    if answer.status == 401:
        raise ConnectionProblem(
            f"Twilio did not accept the account SID and auth token: {api_error(answer)}"
        )
    if answer.status != 200:
        raise ConnectionProblem(f"Twilio answered {answer.status}: {api_error(answer)}")
    try:
        data = json.loads(answer.text)
    except ValueError as exc:
        raise ConnectionProblem("Twilio's answer was not JSON.") from exc
    if not isinstance(data, dict):
        raise ConnectionProblem("Twilio's answer was not a JSON object.")
    return data


def test_connection(inbox: Inbox, webhook_url: str) -> str:
    account = TwilioAccount.of(inbox)
    problem = account.problem()
    if problem:
        raise ConnectionProblem(problem)
    found = _get(account, ".json")
    name = str(found.get("friendly_name") or account.account_sid)
    if found.get("status") not in (None, "active"):
        raise ConnectionProblem(f"The Twilio account “{name}” is {found.get('status')}.")
    line = f"Connected to Twilio account “{name}”"
    if not account.phone_number:
        return f"{line}; replies go through messaging service {account.messaging_service_sid}."
    query = urllib.parse.urlencode({"PhoneNumber": account.phone_number})
    numbers = _get(account, f"/IncomingPhoneNumbers.json?{query}").get("incoming_phone_numbers")
    if not numbers:
        raise ConnectionProblem(
            f"Connected to Twilio account “{name}”, but {account.phone_number} is not one of "
            "its numbers."
        )
    number = numbers[0] if isinstance(numbers[0], dict) else {}
    if (number.get("capabilities") or {}).get("sms") is False:
        raise ConnectionProblem(f"{account.phone_number} cannot send or receive SMS.")
    line += f"; {account.phone_number} is in it"
    sms_url = str(number.get("sms_url") or "")
    if account.messaging_service_sid:
        return line + (
            f". Incoming messages follow messaging service {account.messaging_service_sid}'s "
            f"Integration setting: have it send a webhook to {webhook_url}."
        )
    if sms_url != webhook_url:
        now = f"now {sms_url}" if sms_url else "not set"
        return line + (
            f". Its “A message comes in” webhook is {now}: set it to {webhook_url} "
            "(HTTP POST) to receive messages here."
        )
    return line + " and its incoming messages come here."


SETUP = SourceSetup(
    kind=Inbox.Kind.SMS,
    fields=(
        SetupField(
            "account_sid",
            "Account SID",
            help="AC…, on the Twilio console's home page (Account info).",
        ),
        SetupField(
            "auth_token",
            "Auth token",
            help="Beside the account SID. It signs Twilio's webhooks and Parley's calls.",
            secret=True,
        ),
        SetupField(
            "phone_number",
            "Twilio phone number",
            help="The number customers text, in international format: +15551234567.",
            required=False,
        ),
        SetupField(
            "messaging_service_sid",
            "Messaging service SID",
            help="MG…, optional: send through a messaging service (sender pool, Advanced "
            "Opt-Out). Give the number, the service, or both.",
            required=False,
        ),
        SetupField(
            "public_url",
            "Public base URL",
            help="Optional: where Twilio reaches Parley, e.g. https://support.example.com, "
            "when it is not the site's configured address (SITE_URL).",
            required=False,
        ),
    ),
    webhook_url_name="sms:webhook",
    test_connection=test_connection,
    docs="docs/sources/sms.md",
    steps=(
        "In the Twilio console, open Phone Numbers → Manage → Active numbers; choose the number.",
        "Under Messaging configuration, set “A message comes in” to Webhook, the URL below, "
        "HTTP POST, and save.",
        "With a messaging service, set its Integration → “Send a webhook” to that URL instead.",
        "Copy the account SID and auth token from the console's Account info, and the number.",
        "Test the connection. Delivery reports need no setup: Parley sends its status URL with "
        "each message.",
    ),
)
