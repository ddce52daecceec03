"""Notification rules without I/O: who wants what, how, and when it may be sent."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Literal

from shared.clock import CITY_TZ

CHANNELS = ("push", "sms", "email", "inapp")
MODES = ("instant", "digest", "off")
# What Skolit sends, by the event or action that causes it. "critical" (e.g. school closed today)
# cannot be turned off and is sent inside quiet hours too.
MESSAGE_TYPES = {
    "campaign-opened": "A self-assessment round opened for your school",
    "deadline-approaching": "The self-assessment deadline is near",
    "assessment-submitted": "A school submitted its self-assessment",
    "assessment-reopened": "A submitted self-assessment was reopened",
    "assessment-reopened-school": "Your school's self-assessment was reopened for changes",
    "request-submitted": "A new app request awaits your review",
    "request-acknowledged": "Your app request is being reviewed",
    "request-question": "A reviewer asks about your app request",
    "request-answered": "A requester answered your question about an app request",
    "request-withdrawn": "An app request you review was withdrawn",
    "request-stalled": "Reminder: an app request has waited for review too long",
    "request-decided": "Your app request was decided",
    "dpa-expired": "An app's data processing agreement expired",
    "licence-expiring": "A licence ends soon",
    "report-published": "The annual follow-up report is published",
    "indicator-below-target": "A school's figure went below its indicator's target",
    "broadcast": "Messages from the school or the district",
    "critical": "Urgent messages (e.g. the school is closed today)",
}
#: the same, in Swedish: what a recipient reads in their preferences (``describe``)
MESSAGE_TYPES_SV = {
    "campaign-opened": "En omgång av självvärderingen har öppnat för din skola",
    "deadline-approaching": "Sista dagen för självvärderingen närmar sig",
    "assessment-submitted": "En skola har lämnat in sin självvärdering",
    "assessment-reopened": "En inlämnad självvärdering har öppnats igen",
    "assessment-reopened-school": "Skolans självskattning har öppnats igen för ändringar",
    "request-submitted": "En ny begäran om en app väntar på din granskning",
    "request-acknowledged": "Din begäran om en app granskas",
    "request-question": "En granskare har en fråga om din begäran om en app",
    "request-answered": "Den som begärt en app har svarat på er fråga",
    "request-withdrawn": "En begäran om en app som du granskar har dragits tillbaka",
    "request-stalled": "Påminnelse: en begäran om en app har väntat länge på granskning",
    "request-decided": "Din begäran om en app har fått ett beslut",
    "dpa-expired": "En apps personuppgiftsbiträdesavtal har gått ut",
    "licence-expiring": "En licens löper snart ut",
    "report-published": "Den årliga uppföljningsrapporten är publicerad",
    "indicator-below-target": "En skolas värde har hamnat under målet för en indikator",
    "broadcast": "Meddelanden från skolan eller förvaltningen",
    "critical": "Brådskande meddelanden (t.ex. att skolan är stängd i dag)",
}
CRITICAL = frozenset({"critical"})
# Without a choice of their own: in the app and by push at once; e-mail as a daily digest; SMS costs
# money and is for what cannot wait.
DEFAULT_MODES = {"push": "instant", "inapp": "instant", "email": "digest", "sms": "off"}
DEFAULT_QUIET = (time(21, 0), time(7, 0))


#: the languages a recipient may choose: every message template exists in each (tests/unit/test_notification_languages.py);
#: Swedish is the city's and the fallback for text written in no other language
LANGUAGES = ("sv", "en")
FALLBACK_LANGUAGE = "sv"
#: the languages a broadcast may carry besides its Swedish subject and body
TRANSLATION_LANGUAGES = tuple(lang for lang in LANGUAGES if lang != FALLBACK_LANGUAGE)


def describe(message_type: str, language: str) -> str:
    """What a message type is, in Swedish or (for ``en``) English."""
    if language == "en":
        return MESSAGE_TYPES[message_type]
    return MESSAGE_TYPES_SV.get(message_type, MESSAGE_TYPES[message_type])


class Rejected(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def check_choice(message_type: str, channel: str, mode: str) -> None:
    if message_type not in MESSAGE_TYPES:
        raise Rejected(f"unknown message type {message_type!r}; types: {', '.join(MESSAGE_TYPES)}", "messageType")
    if channel not in CHANNELS:
        raise Rejected(f"unknown channel {channel!r}; channels: {', '.join(CHANNELS)}", "channel")
    if mode not in MODES:
        raise Rejected(f"unknown mode {mode!r}; modes: {', '.join(MODES)}", "mode")
    if message_type in CRITICAL and mode != "instant":
        raise Rejected("critical messages cannot be turned off or delayed to a digest", "mode")


def check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise Rejected(f"unsupported language {language!r}; languages: {', '.join(LANGUAGES)}", "language")


def check_quiet_hours(start: time, end: time) -> None:
    """Quiet hours are a span: start = end would be none or the whole day, so it is refused; no quiet hours is
    ``quietHours: null`` (stored as 00:00–00:00, which ``in_quiet_hours`` reads as none)."""
    if start == end:
        raise Rejected("quiet hours that start when they end are no span: give different times, or quietHours: null for none",
                       "quietHours.end")


def check_digest_reachable(channel: str, mode: str, reachable: Collection[str]) -> None:
    """A digest is a summary sent on a channel: refused on a channel the recipient has no contact details for
    (e-mail address, mobile number, push device), where it would silently never arrive."""
    if mode == "digest" and channel not in reachable:
        raise Rejected(f"no {channel} contact details to send a digest to: add them first, or choose another channel", "mode")


#: message types for which a recipient must keep at least one channel they can be reached on
MUST_REACH = frozenset({"broadcast"})


def check_still_reached(choices: Mapping[tuple[str, str], str], reachable: Collection[str]) -> str | None:
    """The message type in MUST_REACH that the choices would leave with no channel the recipient can be reached on
    (the in-app inbox always can), or None: turning off every channel for the school's messages is refused."""
    for message_type in sorted(MUST_REACH):
        if all(effective_mode(choices, message_type, c, reachable) == "off" for c in CHANNELS if c in reachable):
            return message_type
    return None


def effective_mode(choices: Mapping[tuple[str, str], str], message_type: str, channel: str, reachable: Collection[str] = CHANNELS) -> str:
    """The recipient's choice for this type and channel, else the channel's default; critical is always
    instant. Someone without the app (no push token) gets e-mail at once rather than as a digest, so
    no one is left with only a daily summary because they never chose."""
    if message_type in CRITICAL:
        return "instant"
    chosen = choices.get((message_type, channel))
    if chosen is not None:
        return chosen
    if channel == "email" and "push" not in reachable:
        return "instant"
    return DEFAULT_MODES[channel]


def backoff(attempts: int, base_seconds: float, max_seconds: float) -> timedelta:
    """How long a temporary failure waits before the next attempt: doubling, capped."""
    return timedelta(seconds=min(max_seconds, base_seconds * 2 ** max(0, attempts - 1)))


def fallback_next(chain: Sequence[str], failed: str, reachable: Collection[str], turned_off: Collection[str], tried: Collection[str],
                  critical: bool) -> str | None:
    """The channel to try after ``failed`` failed for good: the next in the chain the recipient can be
    reached on and has not been tried. A channel the recipient explicitly turned off for this type is
    skipped (a default "off" is not a choice), except for critical messages."""
    if failed not in chain:
        return None
    for channel in chain[chain.index(failed) + 1:]:
        if channel in reachable and channel not in tried and (critical or channel not in turned_off):
            return channel
    return None


def in_quiet_hours(local: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end  # across midnight, e.g. 21-07


def send_at(now: datetime, quiet: tuple[time, time], critical: bool) -> tuple[datetime, bool]:
    """When a message may go out: now, or when the recipient's quiet hours end (delayed, never dropped).
    The flag says whether quiet hours were bypassed (critical), which is logged."""
    local = now.astimezone(CITY_TZ)
    start, end = quiet
    if not in_quiet_hours(local.time(), start, end):
        return now, False
    if critical:
        return now, True
    ends = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if ends <= local:
        ends += timedelta(days=1)
    return ends.astimezone(now.tzinfo), False


# --- self-service of one's own contact details and devices (usecases/self_service.py) -------------

#: a confirmation code is this many digits, valid this long, and may be tried this many times
CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=15)
CODE_ATTEMPTS = 5
#: at most this many codes per person and channel in CODE_WINDOW (each one is an e-mail or an SMS to someone)
CODES_PER_WINDOW = 5
CODE_WINDOW = timedelta(hours=1)
#: push devices per person
MAX_DEVICES = 10
PLATFORMS = ("ios", "android", "web", "other")

Verdict = Literal["confirmed", "wrong", "expired", "exhausted"]


def new_code(randbelow: Callable[[int], int]) -> str:
    """A code of CODE_DIGITS digits, leading zeros kept (``randbelow``: ``secrets.randbelow``)."""
    return f"{randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def code_verdict(*, matches: bool, attempts: int, expires_at: datetime, now: datetime) -> Verdict:
    """What a try of a confirmation code comes to. ``attempts`` counts the tries before this one. An expired code
    or one tried CODE_ATTEMPTS times already is refused whatever is typed (so the right code cannot be found by
    trying on); otherwise the code matches or it is one more wrong try."""
    if now >= expires_at:
        return "expired"
    if attempts >= CODE_ATTEMPTS:
        return "exhausted"
    return "confirmed" if matches else "wrong"


def tries_left(attempts: int) -> int:
    return max(0, CODE_ATTEMPTS - attempts)


def code_window(codes_sent: int, first_sent_at: datetime | None, now: datetime) -> tuple[int, datetime] | None:
    """Whether another code may be sent: the (count, window start) to store with it, or None when
    CODES_PER_WINDOW were sent in the current window already. A window starts with its first code."""
    if first_sent_at is None or now - first_sent_at >= CODE_WINDOW:
        return 1, now
    if codes_sent >= CODES_PER_WINDOW:
        return None
    return codes_sent + 1, first_sent_at


#: a push send's error codes that mean the device's token or subscription reaches no one any more, so the device is dropped:
#: Web Push 404/410, FCM UNREGISTERED, INVALID_ARGUMENT, SENDER_ID_MISMATCH (services/notification/providers/)
DEVICE_GONE = frozenset({"subscription-gone", "fcm-unregistered", "fcm-invalid-argument", "fcm-sender-id-mismatch"})


def token_hint(token: str) -> str:
    """What a device's token shows of itself: its last four characters (a push token is a credential to reach
    the device; it is never echoed back in full)."""
    return "…" + token[-4:] if len(token) > 8 else "…"


PushState = Literal["sending", "accepted", "delivered", "temporary", "permanent"]
PushVerdict = Literal["sending", "accepted", "delivered", "temporary", "permanent"]


def push_verdict(states: Iterable[str]) -> PushVerdict:
    """A push delivery goes to every device of the person; what it comes to, from its sends' states: delivered
    when one device got it, waiting (accepted, sending) while a gateway may still report one, else to be tried
    again when a failure was temporary, else failed for good (every device refused it; no device at all too)."""
    seen = set(states)
    for verdict in ("delivered", "sending", "accepted", "temporary"):
        if verdict in seen:
            return verdict
    return "permanent"
