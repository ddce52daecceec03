"""The languages a recipient may choose (domain.LANGUAGES) are the languages every message template exists in, and a
broadcast written in Swedish and English reaches each reader in theirs, with Swedish as the stated fallback."""

from __future__ import annotations

from services.notification import domain, templates

WEB = "https://skolit.example.se"


def test_every_message_template_exists_in_every_supported_language() -> None:
    types = {p.name.split(".")[0] for p in templates.DIRECTORY.glob("*.txt")}
    assert {"broadcast", "critical"} <= types
    missing = sorted(f"{t}.{lang}.txt" for t in types for lang in domain.LANGUAGES if not (templates.DIRECTORY / f"{t}.{lang}.txt").is_file())
    assert missing == []
    assert domain.FALLBACK_LANGUAGE == templates.FALLBACK == "sv" and domain.TRANSLATION_LANGUAGES == ("en",)


BILINGUAL = {"subject": "Skolan är stängd i dag", "body": "Vattenläcka.", "link": "/inbox", "writtenIn": "sv",
             "versions": {"en": {"subject": "The school is closed today", "body": "A water leak."}}}


def test_each_reader_gets_their_version_and_the_critical_prefix_in_their_language() -> None:
    subject, body, used = templates.compose("critical", "en", BILINGUAL, "Ekdalsskolan", WEB)
    assert (subject, used) == ("IMPORTANT: The school is closed today", "en") and body.startswith("A water leak.")
    assert body.endswith(f"{WEB}/inbox") and "Ekdalsskolan" in body
    subject, body, used = templates.compose("critical", "sv", BILINGUAL, "Ekdalsskolan", WEB)
    assert (subject, used) == ("VIKTIGT: Skolan är stängd i dag", "sv") and body.startswith("Vattenläcka.")
    assert BILINGUAL["versions"]  # the stored data is not changed by reading it


def test_without_a_version_in_the_readers_language_the_text_is_the_swedish_and_says_so() -> None:
    swedish_only = {"subject": "Skolan är stängd i dag", "body": "Vattenläcka.", "writtenIn": "sv"}
    subject, body, used = templates.compose("critical", "en", swedish_only, None, WEB)
    # the urgency is marked in words the reader reads; the text is as written, and the answer says it is Swedish
    assert (subject, used) == ("IMPORTANT: Skolan är stängd i dag", "sv") and body.startswith("Vattenläcka.")
    subject, _, used = templates.compose("broadcast", "en", swedish_only, None, WEB)
    assert (subject, used) == ("Skolan är stängd i dag", "sv")


def test_a_message_made_before_versions_reads_as_it_always_did() -> None:
    old = {"subject": "Fotodag", "body": "Fotografering på torsdag.", "link": ""}
    assert templates.compose("broadcast", "en", old, None, WEB)[2] == "en"
    assert templates.compose("critical", "en", old, None, WEB)[0] == "IMPORTANT: Fotodag"
