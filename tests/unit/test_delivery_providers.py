"""The real delivery providers' pure parts (services/notification/providers/): RFC 8291's own example, VAPID, DSN parsing,
and the tables that map each provider's answer onto Skolit's states."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from devkit.sinks import Sinks
from services.notification.channels import HttpChannel, Outgoing, verp
from services.notification.providers import dsn, elks, fcm, push, webpush
from services.notification.providers.elks import ElksSmsChannel
from services.notification.providers.push import PushChannel
from services.notification.providers.webpush import b64url, unb64url
from services.notification.settings import NotificationSettings

# RFC 8291 Appendix A, every value as the RFC prints it (base64url)
PLAINTEXT = "V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24"
AS_PRIVATE = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
AS_PUBLIC = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
UA_PRIVATE = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
UA_PUBLIC = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
SALT = "DGv6ra1nlYgDCS1FRnbzlw"
AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
BODY = ("DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT"
        "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN")


def private(b64: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(unb64url(b64), "big"), ec.SECP256R1())


def test_rfc_8291_appendix_a_encrypts_byte_for_byte_and_decrypts_back() -> None:
    as_private = private(AS_PRIVATE)
    assert webpush.public_key_b64(as_private) == AS_PUBLIC
    body = webpush.encrypt(unb64url(PLAINTEXT), unb64url(UA_PUBLIC), unb64url(AUTH), as_private=as_private, salt=unb64url(SALT))
    assert b64url(body) == BODY
    assert webpush.decrypt(unb64url(BODY), private(UA_PRIVATE), unb64url(AUTH)) == b"When I grow up, I want to be a watermelon"


def test_a_fresh_message_decrypts_only_with_the_right_keys() -> None:
    ua, auth = ec.generate_private_key(ec.SECP256R1()), b"0123456789abcdef"
    ua_public = unb64url(webpush.public_key_b64(ua))
    one, two = webpush.encrypt("Hej på dig".encode(), ua_public, auth), webpush.encrypt("Hej på dig".encode(), ua_public, auth)
    assert one != two  # a new key pair and salt per message
    assert webpush.decrypt(one, ua, auth) == "Hej på dig".encode()
    with pytest.raises(ValueError):
        webpush.decrypt(one, ua, b"fedcba9876543210")
    with pytest.raises(ValueError):
        webpush.decrypt(one[:-1] + bytes([one[-1] ^ 1]), ua, auth)
    with pytest.raises(ValueError):
        webpush.encrypt(b"x" * (webpush.MAX_PLAINTEXT + 1), ua_public, auth)


def test_a_subscription_is_stored_as_canonical_json_and_only_real_ones_parse() -> None:
    sub = webpush.Subscription("https://push.example/abc", unb64url(UA_PUBLIC), unb64url(AUTH))
    token = sub.token()
    assert webpush.parse_subscription(token) == sub
    assert token == webpush.Subscription(sub.endpoint, sub.p256dh, sub.auth).token()
    assert webpush.parse_subscription("fcm-token-abcdef") is None
    assert webpush.parse_subscription('{"endpoint": "x", "keys": {"p256dh": "AAAA", "auth": "BBBB"}}') is None
    assert webpush.parse_subscription("{not json") is None


def test_vapid_signs_for_the_endpoints_origin_and_the_push_service_checks_it() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    vapid = webpush.Vapid(key, "mailto:it@example.se")
    header = vapid.authorization("https://push.example:8443/send/abc", now=time.time())
    assert header.startswith("vapid t=") and header.endswith(f", k={webpush.public_key_b64(key)}")
    claims = webpush.verify_vapid(header, "https://push.example:8443/other")
    assert claims["aud"] == "https://push.example:8443" and claims["sub"] == "mailto:it@example.se"
    assert vapid.authorization("https://push.example:8443/x") == header  # reused for the origin
    with pytest.raises(jwt.InvalidAudienceError):
        webpush.verify_vapid(header, "https://elsewhere.example/abc")
    forged = header.replace(webpush.public_key_b64(key), webpush.public_key_b64(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(jwt.InvalidSignatureError):
        webpush.verify_vapid(forged, "https://push.example:8443/abc")


@pytest.mark.parametrize(("status", "expected"), [
    (201, ("accepted", None, False)), (404, ("permanent", "subscription-gone", True)), (410, ("permanent", "subscription-gone", True)),
    (413, ("permanent", "payload-too-large", False)), (429, ("temporary", "http-429", False)), (503, ("temporary", "http-503", False)),
    (400, ("permanent", "http-400", False)),
])
def test_web_push_answers_map_to_results(status: int, expected: tuple[str, str | None, bool]) -> None:
    assert webpush.result_of(status) == expected
    assert (expected[1] in push.DROPS) == expected[2]


def fcm_error(status: int, rpc: str, code: str | None) -> dict[str, object]:
    details = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}] if code else []
    return {"error": {"code": status, "message": "m", "status": rpc, "details": details}}


@pytest.mark.parametrize(("status", "answer", "expected"), [
    (200, {"name": "projects/p/messages/1"}, ("accepted", None, False)),
    (404, fcm_error(404, "NOT_FOUND", "UNREGISTERED"), ("permanent", "fcm-unregistered", True)),
    (400, fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"), ("permanent", "fcm-invalid-argument", True)),
    (403, fcm_error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"), ("permanent", "fcm-sender-id-mismatch", True)),
    (429, fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), ("temporary", "fcm-quota-exceeded", False)),
    (503, fcm_error(503, "UNAVAILABLE", None), ("temporary", "fcm-unavailable", False)),
    (500, fcm_error(500, "INTERNAL", "INTERNAL"), ("temporary", "fcm-internal", False)),
    (502, {}, ("temporary", "fcm-502", False)),
    (418, {}, ("permanent", "fcm-418", False)),
])
def test_fcm_answers_map_to_results_and_which_drop_the_device(status: int, answer: dict[str, object],
                                                              expected: tuple[str, str | None, bool]) -> None:
    assert fcm.result_of(status, answer) == expected
    assert (expected[1] in push.DROPS) == expected[2]


def test_the_fcm_assertion_is_an_rs256_jwt_for_the_token_uri() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    account = fcm.ServiceAccount("p", "sa@p.iam.gserviceaccount.com", pem, "kid1", "https://oauth2.example/token")
    token = account.assertion(time.time())
    assert jwt.get_unverified_header(token)["kid"] == "kid1"
    claims = jwt.decode(token, key.public_key(), algorithms=["RS256"], audience="https://oauth2.example/token")
    assert claims["iss"] == "sa@p.iam.gserviceaccount.com" and claims["scope"] == fcm.SCOPE and claims["exp"] - claims["iat"] == 3600


@pytest.mark.parametrize(("status", "expected"), [
    (200, ("accepted", None)), (400, ("permanent", "46elks-400")), (401, ("temporary", "46elks-401")), (402, ("temporary", "46elks-402")),
    (403, ("temporary", "46elks-403")), (404, ("permanent", "46elks-404")), (429, ("temporary", "46elks-429")), (503, ("temporary", "46elks-503")),
])
def test_46elks_answers_map_to_results(status: int, expected: tuple[str, str | None]) -> None:
    assert elks.send_result(status) == expected


def test_46elks_reports_map_to_callbacks_and_their_urls_are_signed_per_message() -> None:
    assert elks.REPORT == {"delivered": "delivered", "failed": "failed", "sent": None}
    path = elks.report_path("123", "secret")
    sig = path.split("sig=", 1)[1]
    assert path.startswith("/providers/46elks/reports/123?") and elks.signature_ok("secret", "123", sig)
    assert not elks.signature_ok("secret", "124", sig) and not elks.signature_ok("other", "123", sig)
    assert push.receipt_ok("s", "9", push.receipt_token("s", "9")) and not push.receipt_ok("s", "10", push.receipt_token("s", "9"))


def test_verp_puts_the_reference_in_the_envelope_sender() -> None:
    assert verp("bounces@skolit.example", "42") == "bounces+42@skolit.example"
    assert verp(None, "42") is None


def report(*, to: str = "bounces+4711@skolit.example", status: str = "5.1.1", action: str = "failed", headers: str = "text/rfc822-headers",
           message_id: str = "<skolit-4711@skolit.example>") -> bytes:
    returned = f"From: Skolit <noreply@skolit.example>\r\nTo: anna@example.se\r\nSubject: Hej\r\nMessage-ID: {message_id}\r\n"
    return (
        f"From: MAILER-DAEMON@mx.example\r\nTo: {to}\r\nSubject: Undelivered Mail\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
        f"Final-Recipient: rfc822; anna@example.se\r\nAction: {action}\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <anna@example.se>: user unknown\r\n\r\n"
        f"--b\r\nContent-Type: {headers}\r\n\r\n" + returned + "\r\n--b--\r\n"
    ).encode()


def test_a_dsn_names_the_delivery_by_verp_the_recipient_and_hard_or_soft() -> None:
    [b] = dsn.parse_dsn(report())
    assert b == dsn.Bounce("4711", "anna@example.se", "5.1.1", "hard") and b.reason == "bounce-hard-5.1.1"
    [soft] = dsn.parse_dsn(report(status="4.2.2"))
    assert soft.kind == "soft"


def test_without_verp_the_returned_message_id_names_the_delivery() -> None:
    [b] = dsn.parse_dsn(report(to="noreply@skolit.example", message_id="<skolit-99@skolit.example>"))
    assert b.reference == "99"
    [quoted] = dsn.parse_dsn(report(to="noreply@skolit.example", message_id="<skolit-98@skolit.example>", headers="message/rfc822"))
    assert quoted.reference == "98"
    [unknown] = dsn.parse_dsn(report(to="noreply@skolit.example", message_id="<other@elsewhere>"))
    assert unknown.reference is None


def test_delays_deliveries_and_other_mail_are_no_bounces() -> None:
    assert dsn.parse_dsn(report(action="delayed", status="4.4.7")) == []
    assert dsn.parse_dsn(report(action="delivered", status="2.0.0")) == []
    assert dsn.parse_dsn(b"From: a@b\r\nTo: c@d\r\nSubject: hi\r\n\r\nhello\r\n") == []


def test_a_providers_json_bounce() -> None:
    assert dsn.parse_json({"reference": "12", "recipient": "a@b.se", "status": "5.1.1"}) == [dsn.Bounce("12", "a@b.se", "5.1.1", "hard")]
    assert dsn.parse_json([{"messageId": "<skolit-13@x>", "type": "Transient"}]) == [dsn.Bounce("13", None, "4.0.0", "soft")]
    assert dsn.parse_json({"reference": "14", "type": "complaint"}) == []
    with pytest.raises(ValueError):
        dsn.parse_json(["nope"])


# --- the adapters against the local sinks (real servers over real sockets; devkit/sinks.py) --------------------------


@pytest.fixture
def sinks() -> Iterator[Sinks]:
    with Sinks() as s:
        yield s


@pytest.fixture
def configured(sinks: Sinks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NotificationSettings:
    for name, value in sinks.provider_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    return NotificationSettings.from_env()


def item(reference: str, to: str, *, callback: bool = True) -> Outgoing:
    return Outgoing(reference, to, "Studiedag", "Ingen undervisning på fredag.", "sv", callback=callback)


async def test_the_46elks_channel_sends_a_form_with_basic_auth_and_maps_refusals(sinks: Sinks, configured: NotificationSettings) -> None:
    sinks.fail("sms", to="+46700000002", status=400)
    channel = ElksSmsChannel(configured)
    try:
        sent = {o.reference: o for o in await channel.send([item("1", "+46700000001"), item("2", "+46700000002"),
                                                            item("3", "+46700000003", callback=False)])}
        assert sent["1"].result == "accepted" and sent["1"].gateway_ref and sent["1"].gateway_ref.startswith("s")
        assert (sent["2"].result, sent["2"].error) == ("permanent", "46elks-400")
        assert sent["3"].result == "delivered"  # no report asked for (a confirmation code): taken is as far as it goes
        [first] = sinks.messages(channel="sms", to="+46700000001")
        assert (first["from"], first["body"], first["id"], first["reference"]) == ("Skolit", "Ingen undervisning på fredag.", sent["1"].gateway_ref, "1")
    finally:
        await channel.close()
    wrong = ElksSmsChannel(replace(configured, elks_password="wrong"))
    try:
        [refused] = await wrong.send([item("4", "+46700000004")])
        assert (refused.result, refused.error) == ("temporary", "46elks-401")  # the city's account to fix: the message waits
    finally:
        await wrong.close()


async def test_the_push_channel_encrypts_for_the_browser_and_exchanges_a_token_for_fcm(sinks: Sinks, configured: NotificationSettings) -> None:
    sub = sinks.http.mint_subscription()
    token = webpush.Subscription(sub["endpoint"], unb64url(sub["keys"]["p256dh"]), unb64url(sub["keys"]["auth"])).token()
    gone = sinks.http.mint_subscription()
    gone_token = webpush.Subscription(gone["endpoint"], unb64url(gone["keys"]["p256dh"]), unb64url(gone["keys"]["auth"])).token()
    sinks.fail("push", to=gone["endpoint"], status=410)
    sinks.fail("push", to="fcm-uninstalled", status=404)
    sinks.fail("push", to="fcm-busy", status=503)
    channel = PushChannel(configured, HttpChannel("push", configured.push_url, configured))
    try:
        sent = {o.reference: o for o in await channel.send([item("10", token), item("11", gone_token), item("12", "fcm-app"),
                                                            item("13", "fcm-uninstalled"), item("14", "fcm-busy")])}
    finally:
        await channel.close()
    assert sent["10"].result == "accepted" and sent["10"].gateway_ref and "/webpush/messages/" in sent["10"].gateway_ref
    assert (sent["11"].result, sent["11"].error) == ("permanent", "subscription-gone")
    assert sent["12"].result == "accepted" and sent["12"].gateway_ref and sent["12"].gateway_ref.startswith("projects/skolit-sink/messages/")
    assert (sent["13"].result, sent["13"].error) == ("permanent", "fcm-unregistered")
    assert (sent["14"].result, sent["14"].error) == ("temporary", "fcm-unavailable")
    [browser] = sinks.messages(channel="push", to=sub["endpoint"])
    assert (browser["subject"], browser["body"], browser["reference"]) == ("Studiedag", "Ingen undervisning på fredag.", "10")
    assert push.receipt_ok(configured.callback_token, "10", browser["payload"]["receiptToken"])
    [app] = sinks.messages(channel="push", to="fcm-app")
    assert app["payload"]["reference"] == "12" and app["payload"]["receiptUrl"].endswith("/push/receipts")
    assert len(sinks.http._access_tokens) == 1  # one token exchange for the whole batch


async def test_a_wrong_vapid_key_or_service_account_is_refused_by_the_sinks(sinks: Sinks, configured: NotificationSettings,
                                                                            tmp_path: Path) -> None:
    sub = sinks.http.mint_subscription()
    async with httpx.AsyncClient() as http:
        plain = await http.post(sub["endpoint"], content=b"x", headers={"Content-Encoding": "aes128gcm"})
        assert plain.status_code == 401  # no VAPID
    stranger = {**sinks.http.mint_service_account(), "client_email": "someone@else.iam.gserviceaccount.com"}
    (tmp_path / "stranger.json").write_text(json.dumps(stranger), encoding="utf-8")
    channel = PushChannel(replace(configured, fcm_service_account_file=str(tmp_path / "stranger.json")),
                          HttpChannel("push", configured.push_url, configured))
    try:
        [refused] = await channel.send([item("20", "fcm-app")])
    finally:
        await channel.close()
    assert (refused.result, refused.error) == ("temporary", "fcm-token-refused")  # no access token: tried again later
    assert sinks.messages(channel="push") == []


async def test_the_sms_report_can_be_armed_from_another_process(sinks: Sinks) -> None:
    async with httpx.AsyncClient(base_url=sinks.http.url) as http:
        assert (await http.post("/control/sms-report", json={"to": "+46700000009", "status": "exploded"})).status_code == 400
        assert (await http.post("/control/sms-report", json={"to": "+46700000009", "status": "failed"})).status_code == 200
    assert sinks.http._sms_reports == {"+46700000009": "failed"}
    sinks.clear_failures()
    assert sinks.http._sms_reports == {}
