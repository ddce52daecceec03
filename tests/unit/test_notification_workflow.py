"""The workflow messages (services/notification/usecases/workflow.py) without a database: every step of a request has
its audience and message type, the types are registered with texts in both languages, and the texts carry what
the recipient needs (and no more)."""

from __future__ import annotations

import pytest

from services.notification import domain, templates
from services.notification.usecases import workflow
from shared.events.catalog import RequestStep

WORKFLOW_TYPES = ("request-submitted", "request-acknowledged", "request-question", "request-answered", "request-withdrawn",
                  "request-stalled", "assessment-reopened-school", "indicator-below-target")


def test_every_step_of_a_request_reaches_someone() -> None:
    assert set(workflow.STEP_MESSAGES) == set(RequestStep)
    assert {who for who, _ in workflow.STEP_MESSAGES.values()} == {"requester", "reviewers"}
    assert workflow.STEP_MESSAGES[RequestStep.INFO_REQUESTED] == ("requester", "request-question")
    assert workflow.STEP_MESSAGES[RequestStep.INFO_PROVIDED][0] == "reviewers"


@pytest.mark.parametrize("message_type", WORKFLOW_TYPES)
def test_workflow_message_types_are_registered_and_written_in_both_languages(message_type: str) -> None:
    assert message_type in domain.MESSAGE_TYPES and message_type in domain.MESSAGE_TYPES_SV
    for language in ("sv", "en"):
        subject, body, used = templates.render(message_type, language, {"appName": "Bråkappen", "school": "Ekbackeskolan", "link": "/x"})
        assert used == language and subject and body.rstrip().endswith("/x")


def test_a_question_carries_its_text_to_the_requester_and_an_answer_stays_in_the_request() -> None:
    subject, body, _ = templates.render("request-question", "sv", {"appName": "Bråkappen", "school": "Ekbackeskolan",
                                                                   "note": "Vilka uppgifter sparas?", "link": "/requests/1"})
    assert subject == "En fråga om din begäran om Bråkappen" and "Vilka uppgifter sparas?" in body
    _, answered, _ = templates.render("request-answered", "en", {"appName": "Bråkappen", "school": "Ekbackeskolan",
                                                                 "note": "Bara förnamn", "link": "/requests/1"})
    assert "Bara förnamn" not in answered


@pytest.mark.parametrize(("value", "language", "text"), [(0.62, "sv", "0,62"), (0.62, "en", "0.62"), (12.0, "sv", "12"),
                                                         (0.123456, "en", "0.1235")])
def test_figures_are_written_the_way_the_reader_writes_numbers(value: float, language: str, text: str) -> None:
    assert workflow._number(value, language) == text
