"""Pure rules of the catalog service (the programbank): app records, data protection and approval,
availability, licences, requests, search queries and filters. No database, no network."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.catalog import domain
from services.catalog import vocabulary as vocab
from services.catalog.domain import (
    AppInput,
    DataProtection,
    Rejected,
    SearchFilters,
    StatusDefinition,
)
from shared.events.catalog import DpaStatus, PrivacyRating

TODAY = date(2025, 3, 10)

UNDER_REVIEW = StatusDefinition("under_review", "Under granskning", "Under review", allows_use=False)
APPROVED = StatusDefinition("approved", "Godkänd", "Approved", allows_use=True)
APPROVED_456 = StatusDefinition("approved_456", "Godkänd åk 4-6", "Approved years 4-6", allows_use=True, grades=("4", "5", "6"))
RETIRED = StatusDefinition("retired", "Avvecklad", "Retired", allows_use=False, retires=True)
LAPSED = StatusDefinition(domain.LAPSED_STATUS, "PUB-avtal saknas", "DPA lapsed", allows_use=False)


def app(**overrides: Any) -> dict[str, Any]:
    """A valid AppInput payload; keyword arguments replace fields."""
    base: dict[str, Any] = {
        "name": "Räknestigen",
        "supplier": "Nordlärande AB",
        "description": "Övningar i taluppfattning.",
        "subjects": ["MA"],
        "grades": ["4", "5", "6"],
        "schoolTypes": ["GR"],
        "platforms": ["web"],
        "languages": ["sv"],
        "headings": ["digitalt-innehall"],
    }
    base.update(overrides)
    return base


def signed(**overrides: Any) -> DataProtection:
    """Personal data under a signed agreement that runs past TODAY, processed in Sweden."""
    fields: dict[str, Any] = {
        "dataCategories": ["identity", "learning_activity"],
        "dpaStatus": "signed",
        "dpaSigned": date(2024, 1, 1),
        "dpaExpires": date(2026, 12, 31),
        "processingCountries": ["SE"],
    }
    fields.update(overrides)
    return DataProtection.model_validate(fields)


def validation_message(payload: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        AppInput.model_validate(payload)
    return str(caught.value)


def refusal(check: Callable[..., None], *args: Any) -> Exception | None:
    """What a domain check refuses with (Rejected, or ValueError for usage periods), or None when it lets the input through."""
    try:
        check(*args)
    except (Rejected, ValueError) as exc:
        return exc
    return None


# --- AppInput ------------------------------------------------------------------------------------

def test_valid_app_input_is_accepted() -> None:
    a = AppInput.model_validate(app())
    assert a.subjects == ["MA"]
    assert a.costModel == "free"
    assert a.dataProtection.dpaStatus == DpaStatus.NOT_REQUIRED


@pytest.mark.parametrize(
    ("field", "value", "bad", "what"),
    [
        ("subjects", ["MA", "XYZ"], "XYZ", "unknown subject"),
        ("grades", ["4", "10"], "10", "unknown grade"),
        ("schoolTypes", ["GR", "HS"], "HS", "unknown school type"),
        ("headings", ["digitalt-innehall", "spel"], "spel", "unknown heading"),
        ("platforms", ["web", "symbian"], "symbian", "unknown platform"),
        ("costModel", "subscription", "subscription", "unknown cost model"),
    ],
)
def test_unknown_vocabulary_value_is_rejected_by_name(field: str, value: Any, bad: str, what: str) -> None:
    message = validation_message(app(**{field: value}))
    assert what in message
    assert repr(bad) in message


def test_grades_come_back_deduplicated_in_school_order() -> None:
    a = AppInput.model_validate(app(grades=["9", "F", "4", "9", "FS", "GY1", "4"]))
    assert a.grades == ["FS", "F", "4", "9", "GY1"]


def test_school_types_come_back_deduplicated_in_vocabulary_order() -> None:
    a = AppInput.model_validate(app(schoolTypes=["VUX", "GR", "FS", "GR"]))
    assert a.schoolTypes == ["FS", "GR", "VUX"]
    assert a.schoolTypes == [t for t in vocab.SCHOOL_TYPES if t in {"VUX", "GR", "FS"}]


def test_headings_come_back_deduplicated_in_vocabulary_order() -> None:
    given = list(reversed(vocab.HEADINGS)) + [vocab.HEADINGS[0]]
    a = AppInput.model_validate(app(headings=given))
    assert a.headings == list(vocab.HEADINGS)


def test_subjects_and_platforms_are_deduplicated_keeping_first_order() -> None:
    a = AppInput.model_validate(app(subjects=["SV", "MA", "SV"], platforms=["ios", "web", "ios"]))
    assert a.subjects == ["SV", "MA"]
    assert a.platforms == ["ios", "web"]


@pytest.mark.parametrize("bad", ["SV", "svenska", "s", "sv-SE", "12"])
def test_languages_must_be_iso_639_codes(bad: str) -> None:
    message = validation_message(app(languages=["sv", bad]))
    assert "ISO 639" in message
    assert repr(bad) in message


def test_languages_are_deduplicated() -> None:
    assert AppInput.model_validate(app(languages=["sv", "ar", "sv", "fil"])).languages == ["sv", "ar", "fil"]


def test_keywords_are_lower_cased_trimmed_and_deduplicated() -> None:
    a = AppInput.model_validate(app(keywords=[" Bråk ", "BRÅK", "tal", "  ", "Tal"]))
    assert a.keywords == ["bråk", "tal"]


def test_unknown_top_level_field_is_rejected() -> None:
    assert "status" in validation_message(app(status="approved"))


def test_empty_required_list_is_rejected() -> None:
    assert "subjects" in validation_message(app(subjects=[]))


def test_search_extra_has_subject_names_and_keywords() -> None:
    a = AppInput.model_validate(app(subjects=["MA", "PRR"], keywords=["Bråk"]))
    assert domain.search_extra(a) == "Matematik Programmering bråk"


def test_changed_fields_lists_keys_whose_values_differ() -> None:
    assert domain.changed_fields({"a": 1, "b": [1], "c": 3}, {"a": 1, "b": [2], "d": 4}) == ["b", "d"]


# --- DataProtection ------------------------------------------------------------------------------

def test_not_required_with_data_categories_is_rejected() -> None:
    with pytest.raises(ValidationError, match="not_required"):
        DataProtection.model_validate({"dataCategories": ["identity"], "dpaStatus": "not_required"})


@pytest.mark.parametrize("status", ["missing", "requested"])
def test_no_personal_data_normalises_to_not_required(status: str) -> None:
    dp = DataProtection.model_validate({"dpaStatus": status})
    assert dp.dpaStatus == DpaStatus.NOT_REQUIRED
    assert dp.processes_personal_data is False


def test_personal_data_keeps_missing_status() -> None:
    dp = DataProtection.model_validate({"dataCategories": ["identity"]})
    assert dp.dpaStatus == DpaStatus.MISSING
    assert dp.processes_personal_data is True


def test_unknown_data_category_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown data category 'shoe_size'"):
        DataProtection.model_validate({"dataCategories": ["identity", "shoe_size"]})


@pytest.mark.parametrize("status", ["signed", "expired"])
def test_signed_or_expired_without_signing_date_is_rejected(status: str) -> None:
    with pytest.raises(ValidationError, match="dpaSigned"):
        DataProtection.model_validate({"dataCategories": ["identity"], "dpaStatus": status})


def test_expiry_before_signing_is_rejected() -> None:
    with pytest.raises(ValidationError, match="dpaExpires"):
        signed(dpaSigned=date(2025, 6, 1), dpaExpires=date(2025, 5, 31))


def test_expiry_on_signing_day_is_accepted() -> None:
    assert signed(dpaSigned=date(2025, 6, 1), dpaExpires=date(2025, 6, 1)).dpaExpires == date(2025, 6, 1)


def test_processing_country_outside_eea_derives_transfer() -> None:
    assert signed(processingCountries=["SE", "US"]).transferOutsideEea is True


def test_sub_processor_outside_eea_derives_transfer() -> None:
    dp = signed(subProcessors=[{"name": "Molntjänst Norden AB", "country": "SE"}, {"name": "Big Cloud Inc", "country": "US"}])
    assert dp.transferOutsideEea is True


def test_eea_countries_do_not_derive_transfer() -> None:
    dp = signed(processingCountries=["SE", "IE", "NO"], subProcessors=[{"name": "Drift AS", "country": "NO"}])
    assert dp.transferOutsideEea is False


@pytest.mark.parametrize("bad", ["se", "SWE", "S"])
def test_processing_countries_must_be_alpha_2(bad: str) -> None:
    with pytest.raises(ValidationError, match="ISO 3166"):
        signed(processingCountries=[bad])


def test_sub_processor_country_must_be_alpha_2() -> None:
    with pytest.raises(ValidationError):
        signed(subProcessors=[{"name": "X", "country": "usa"}])


# --- effective DPA status ------------------------------------------------------------------------

def test_signed_agreement_expired_yesterday_is_expired() -> None:
    assert domain.effective_dpa_status(DpaStatus.SIGNED, TODAY - timedelta(days=1), TODAY) == DpaStatus.EXPIRED


def test_signed_agreement_expiring_today_is_still_signed() -> None:
    assert domain.effective_dpa_status(DpaStatus.SIGNED, TODAY, TODAY) == DpaStatus.SIGNED


def test_signed_agreement_without_expiry_stays_signed() -> None:
    assert domain.effective_dpa_status(DpaStatus.SIGNED, None, TODAY) == DpaStatus.SIGNED


def test_effective_status_leaves_other_statuses_alone() -> None:
    assert domain.effective_dpa_status(DpaStatus.REQUESTED, TODAY - timedelta(days=100), TODAY) == DpaStatus.REQUESTED


# --- approval blockers and privacy rating --------------------------------------------------------

def test_no_personal_data_has_no_blockers_and_meets() -> None:
    dp = DataProtection()
    assert domain.approval_blockers(dp, TODAY) == []
    assert domain.privacy_rating(dp, TODAY) == PrivacyRating.MEETS


def test_no_personal_data_meets_even_when_hosted_outside_eea() -> None:
    dp = DataProtection.model_validate({"processingCountries": ["US"]})
    assert dp.transferOutsideEea is True
    assert domain.approval_blockers(dp, TODAY) == []
    assert domain.privacy_rating(dp, TODAY) == PrivacyRating.MEETS


@pytest.mark.parametrize("status", ["missing", "requested"])
def test_missing_agreement_blocks_and_does_not_meet(status: str) -> None:
    dp = DataProtection.model_validate({"dataCategories": ["identity"], "dpaStatus": status})
    label = {"missing": ("Missing", "Saknas"), "requested": ("Requested, not in place", "Begärt, inte klart")}[status]
    assert domain.approval_blockers(dp, TODAY) == [f"There is no signed data processing agreement (agreement status: {label[0]})."]
    # the reader's language: the same reason in Swedish, with the agreement's status in words, not as a code
    [reason] = domain.approval_reasons(dp, TODAY)
    assert reason.code == "no_signed_dpa"
    assert reason.text("sv") == f"Det finns inget undertecknat personuppgiftsbiträdesavtal (avtalets status: {label[1]})."
    assert domain.privacy_rating(dp, TODAY) == PrivacyRating.DOES_NOT_MEET


def test_agreement_past_expiry_blocks() -> None:
    dp = signed(dpaExpires=TODAY - timedelta(days=1))
    assert domain.approval_blockers(dp, TODAY) == [f"The data processing agreement expired on {TODAY - timedelta(days=1)}."]
    assert [r.text("sv") for r in domain.approval_reasons(dp, TODAY)] == [f"Personuppgiftsbiträdesavtalet gick ut {TODAY - timedelta(days=1)}."]
    assert domain.privacy_rating(dp, TODAY) == PrivacyRating.DOES_NOT_MEET


def test_agreement_recorded_expired_blocks() -> None:
    dp = signed(dpaStatus="expired", dpaExpires=date(2024, 12, 31))
    assert len(domain.approval_blockers(dp, TODAY)) == 1
    assert "expired" in domain.approval_blockers(dp, TODAY)[0]


def test_agreement_expiring_today_does_not_block() -> None:
    assert domain.approval_blockers(signed(dpaExpires=TODAY), TODAY) == []


def test_transfer_without_safeguard_blocks() -> None:
    dp = signed(processingCountries=["US"])
    blockers = domain.approval_blockers(dp, TODAY)
    assert len(blockers) == 1
    assert "outside the EU/EEA without a safeguard" in blockers[0]
    assert "utanför EU/EES utan skyddsåtgärd" in domain.approval_reasons(dp, TODAY)[0].text("sv")
    assert domain.privacy_rating(dp, TODAY) == PrivacyRating.DOES_NOT_MEET


@pytest.mark.parametrize("category", ["civic_no", "health_support"])
def test_sensitive_category_without_dpia_blocks(category: str) -> None:
    dp = signed(dataCategories=["identity", category])
    name = {"civic_no": ("personal identity number", "personnummer"), "health_support": ("health or special support", "hälsa eller särskilt stöd")}[category]
    assert domain.approval_blockers(dp, TODAY) == [
        f"Sensitive personal data ({name[0]}) is processed without a data protection impact assessment (DPIA)."]
    assert domain.approval_reasons(dp, TODAY)[0].text("sv") == f"Känsliga personuppgifter ({name[1]}) behandlas utan konsekvensbedömning (DPIA)."
    assert domain.privacy_rating(dp, TODAY) == PrivacyRating.DOES_NOT_MEET


def test_sensitive_categories_with_dpia_meet_with_reservations() -> None:
    dp = signed(dataCategories=["civic_no", "health_support"], dpiaRef="DPIA-2025-3")
    assert domain.approval_blockers(dp, TODAY) == []
    assert domain.privacy_rating(dp, TODAY) == PrivacyRating.MEETS_WITH_RESERVATIONS


def test_transfer_with_scc_safeguard_meets_with_reservations() -> None:
    dp = signed(processingCountries=["US"], transferSafeguard="scc")
    assert domain.approval_blockers(dp, TODAY) == []
    assert domain.privacy_rating(dp, TODAY) == PrivacyRating.MEETS_WITH_RESERVATIONS


def test_clean_signed_agreement_meets() -> None:
    dp = signed()
    assert domain.approval_blockers(dp, TODAY) == []
    assert domain.privacy_rating(dp, TODAY) == PrivacyRating.MEETS


def test_every_problem_is_listed() -> None:
    dp = DataProtection.model_validate({"dataCategories": ["civic_no"], "processingCountries": ["US"]})
    assert len(domain.approval_blockers(dp, TODAY)) == 3


# --- status changes ------------------------------------------------------------------------------

def test_no_status_change_from_a_retiring_status() -> None:
    with pytest.raises(Rejected) as caught:
        domain.check_status_change(RETIRED, APPROVED, signed(), ["4"], TODAY)
    assert caught.value.status == 409
    assert caught.value.field == "status"


def test_no_change_to_the_same_status() -> None:
    with pytest.raises(Rejected) as caught:
        domain.check_status_change(APPROVED, APPROVED, signed(), ["4"], TODAY)
    assert caught.value.status == 409
    assert "already has the status approved" in str(caught.value)


def test_no_approval_while_blocked_and_the_reason_is_given() -> None:
    dp = DataProtection.model_validate({"dataCategories": ["identity"]})
    with pytest.raises(Rejected) as caught:
        domain.check_status_change(UNDER_REVIEW, APPROVED, dp, ["4"], TODAY)
    assert caught.value.status == 409
    assert "There is no signed data processing agreement (agreement status: Missing)." in str(caught.value)


def test_grade_restricted_status_needs_one_of_the_apps_grades() -> None:
    with pytest.raises(Rejected) as caught:
        domain.check_status_change(UNDER_REVIEW, APPROVED_456, signed(), ["7", "8", "9"], TODAY)
    assert caught.value.status == 422
    assert caught.value.field == "status"


def test_grade_restricted_status_with_overlap_is_allowed() -> None:
    assert refusal(domain.check_status_change, UNDER_REVIEW, APPROVED_456, signed(), ["6", "7"], TODAY) is None
    # the overlap (grade 6) is what lets it through: the same change for grade 7 alone is refused
    without_overlap = refusal(domain.check_status_change, UNDER_REVIEW, APPROVED_456, signed(), ["7"], TODAY)
    assert isinstance(without_overlap, Rejected) and without_overlap.status == 422 and without_overlap.field == "status"


def test_approval_of_a_clean_app_is_allowed() -> None:
    assert refusal(domain.check_status_change, UNDER_REVIEW, APPROVED, signed(), ["4", "5"], TODAY) is None
    # the clean data protection is what lets it through: the same app without a signed agreement is refused
    unsigned = DataProtection.model_validate({"dataCategories": ["identity", "learning_activity"]})
    blocked = refusal(domain.check_status_change, UNDER_REVIEW, APPROVED, unsigned, ["4", "5"], TODAY)
    assert isinstance(blocked, Rejected) and blocked.status == 409
    assert "There is no signed data processing agreement (agreement status: Missing)." in str(blocked)


def test_moving_a_blocked_app_to_a_non_use_status_is_allowed() -> None:
    dp = DataProtection.model_validate({"dataCategories": ["identity"]})
    assert refusal(domain.check_status_change, APPROVED, LAPSED, dp, ["4"], TODAY) is None
    # the target's not allowing use is what lets it through: the same app moved to a status that allows use is refused
    to_use = refusal(domain.check_status_change, APPROVED, APPROVED_456, dp, ["4"], TODAY)
    assert isinstance(to_use, Rejected) and to_use.status == 409
    assert "cannot get the status approved_456" in str(to_use)


# --- lapses and availability ---------------------------------------------------------------------

def test_approval_lapses_when_agreement_expires() -> None:
    assert domain.lapses(APPROVED, signed(dpaExpires=TODAY - timedelta(days=1)), TODAY) is True


def test_approval_holds_with_valid_agreement() -> None:
    assert domain.lapses(APPROVED, signed(), TODAY) is False


def test_non_use_status_never_lapses() -> None:
    assert domain.lapses(UNDER_REVIEW, DataProtection.model_validate({"dataCategories": ["identity"]}), TODAY) is False


def test_usable_grades_without_restriction_are_all_grades() -> None:
    assert domain.usable_grades(["4", "5", "7"], APPROVED) == ["4", "5", "7"]


def test_usable_grades_are_limited_by_the_status() -> None:
    assert domain.usable_grades(["3", "4", "6", "7"], APPROVED_456) == ["4", "6"]


def test_no_usable_grades_under_a_non_use_status() -> None:
    assert domain.usable_grades(["4"], UNDER_REVIEW) == []


def available(status: StatusDefinition = APPROVED, *, grades: tuple[str, ...] = ("4", "5"), app_types: tuple[str, ...] = ("GR",),
              free_use: bool = False, school_types: tuple[str, ...] = ("GR",), licensed: bool = False, lang: str = "en") -> tuple[bool, str]:
    ok, why = domain.availability(status=status, app_grades=grades, app_school_types=app_types, free_use=free_use,
                                  school_types=school_types, licensed=licensed)
    return ok, why.text(lang)


def test_unavailable_when_status_does_not_allow_use() -> None:
    assert available(UNDER_REVIEW, free_use=True, licensed=True) == (False, "The app's status, Under review, does not allow use.")
    assert available(UNDER_REVIEW, free_use=True, licensed=True, lang="sv") == (False, "Appens status, Under granskning, tillåter inte användning.")


def test_unavailable_for_another_school_type() -> None:
    assert available(app_types=("GY",), school_types=("GR", "FKLASS"), free_use=True) == (False, "The app is not meant for this school unit's school types.")


def test_unavailable_when_grade_restriction_leaves_nothing() -> None:
    assert available(APPROVED_456, grades=("7", "8"), free_use=True) == (False, "The status Approved years 4-6 allows none of the app's grades.")
    assert available(APPROVED_456, grades=("7", "8"), free_use=True, lang="sv") == (False, "Statusen Godkänd åk 4-6 tillåter ingen av appens årskurser.")


def test_available_for_free_use() -> None:
    assert available(free_use=True) == (True, "Free use: every school may use the app.")


def test_available_with_licence() -> None:
    assert available(licensed=True) == (True, "The school unit holds a valid licence.")
    assert available(licensed=True, lang="sv") == (True, "Skolenheten har en giltig licens.")


def test_unavailable_without_licence() -> None:
    assert available() == (False, "The school unit holds no valid licence for the app.")
    assert domain.availability(status=APPROVED, app_grades=["4"], app_school_types=["GR"], free_use=False, school_types=["GR"],
                               licensed=False)[1].code == "no_licence"


# --- licences ------------------------------------------------------------------------------------

def test_licence_cannot_expire_before_it_starts() -> None:
    with pytest.raises(Rejected) as caught:
        domain.check_licence("school", None, None, date(2025, 8, 1), date(2025, 7, 31))
    assert caught.value.field == "expires"
    assert caught.value.status == 422


def test_group_licence_needs_seats() -> None:
    with pytest.raises(Rejected) as caught:
        domain.check_licence("group", None, "7B", date(2025, 8, 1), date(2026, 6, 30))
    assert caught.value.field == "seats"


def test_group_licence_needs_a_group_name() -> None:
    with pytest.raises(Rejected) as caught:
        domain.check_licence("group", 30, "", date(2025, 8, 1), date(2026, 6, 30))
    assert caught.value.field == "groupName"


def test_single_licence_needs_seats() -> None:
    with pytest.raises(Rejected) as caught:
        domain.check_licence("single", None, None, date(2025, 8, 1), date(2026, 6, 30))
    assert caught.value.field == "seats"


def test_school_licence_without_seats_is_fine() -> None:
    assert refusal(domain.check_licence, "school", None, None, date(2025, 8, 1), date(2026, 6, 30)) is None
    # only a school licence may leave seats out: the same licence as a single one is refused for it
    single = refusal(domain.check_licence, "single", None, None, date(2025, 8, 1), date(2026, 6, 30))
    assert isinstance(single, Rejected) and single.field == "seats"


def test_complete_group_licence_is_fine() -> None:
    assert refusal(domain.check_licence, "group", 28, "7B", date(2025, 8, 1), date(2025, 8, 1)) is None
    # each part counts: without its group name, or ending the day before it starts, the same licence is refused
    unnamed = refusal(domain.check_licence, "group", 28, "", date(2025, 8, 1), date(2025, 8, 1))
    assert isinstance(unnamed, Rejected) and unnamed.field == "groupName"
    backwards = refusal(domain.check_licence, "group", 28, "7B", date(2025, 8, 1), date(2025, 7, 31))
    assert isinstance(backwards, Rejected) and backwards.field == "expires"


def test_licence_notice_due_inside_window_when_not_sent() -> None:
    assert domain.licence_notice_due(TODAY + timedelta(days=20), TODAY, 30, None) is True


def test_licence_notice_not_repeated_for_the_same_expiry() -> None:
    expires = TODAY + timedelta(days=20)
    assert domain.licence_notice_due(expires, TODAY, 30, expires) is False


def test_licence_notice_due_again_after_renewal() -> None:
    assert domain.licence_notice_due(TODAY + timedelta(days=20), TODAY, 30, TODAY - timedelta(days=345)) is True


def test_licence_notice_not_due_outside_window() -> None:
    assert domain.licence_notice_due(TODAY + timedelta(days=31), TODAY, 30, None) is False


def test_licence_notice_due_on_window_edge() -> None:
    assert domain.licence_notice_due(TODAY + timedelta(days=30), TODAY, 30, None) is True


def test_licence_notice_due_on_expiry_day() -> None:
    assert domain.licence_notice_due(TODAY, TODAY, 30, None) is True


def test_licence_notice_not_due_after_expiry() -> None:
    assert domain.licence_notice_due(TODAY - timedelta(days=1), TODAY, 30, None) is False


# --- requests ------------------------------------------------------------------------------------

ALLOWED = [(source, action, target) for action, (sources, target) in domain.TRANSITIONS.items() for source in sources]
ALL_STATES = sorted({s for sources, _ in domain.TRANSITIONS.values() for s in sources} | {t for _, t in domain.TRANSITIONS.values()})
DISALLOWED = [(state, action) for action, (sources, _) in domain.TRANSITIONS.items() for state in ALL_STATES if state not in sources]


@pytest.mark.parametrize(("state", "action", "target"), ALLOWED)
def test_allowed_transition_leads_to_its_target(state: str, action: str, target: str) -> None:
    assert domain.next_request_state(state, action, "a note") == target


def test_transition_table_is_what_the_review_flow_expects() -> None:
    assert ("submitted", "acknowledge", "acknowledged") in ALLOWED
    assert ("needs_info", "provide_info", "acknowledged") in ALLOWED
    assert ("acknowledged", "ask_info", "needs_info") in ALLOWED
    assert {t for s, a, t in ALLOWED if a == "approve"} == {"approved"}
    assert {s for s, a, t in ALLOWED if a == "approve"} == set(domain.OPEN_STATES)


@pytest.mark.parametrize(("state", "action"), DISALLOWED)
def test_disallowed_transition_is_a_conflict(state: str, action: str) -> None:
    with pytest.raises(Rejected) as caught:
        domain.next_request_state(state, action, "a note")
    assert caught.value.status == 409
    assert caught.value.field == "action"


def test_closed_requests_cannot_move() -> None:
    assert {s for s, _ in DISALLOWED} >= {"approved", "rejected", "withdrawn"}
    for closed in ("approved", "rejected", "withdrawn"):
        for action in domain.TRANSITIONS:
            with pytest.raises(Rejected):
                domain.next_request_state(closed, action, "note")


@pytest.mark.parametrize(("state", "action"), [("submitted", "ask_info"), ("needs_info", "provide_info"), ("acknowledged", "reject")])
@pytest.mark.parametrize("note", [None, "", "   "])
def test_action_needing_a_note_without_one_is_rejected(state: str, action: str, note: str | None) -> None:
    with pytest.raises(Rejected) as caught:
        domain.next_request_state(state, action, note)
    assert caught.value.field == "note"
    assert caught.value.status == 422


@pytest.mark.parametrize(("state", "action", "target"), [("submitted", "acknowledge", "acknowledged"), ("needs_info", "withdraw", "withdrawn"),
                                                         ("acknowledged", "approve", "approved")])
def test_actions_without_a_required_note_work_without_one(state: str, action: str, target: str) -> None:
    assert domain.next_request_state(state, action, None) == target


def test_unknown_action_is_rejected() -> None:
    with pytest.raises(Rejected) as caught:
        domain.next_request_state("submitted", "escalate", "note")
    assert caught.value.status == 422
    assert caught.value.field == "action"
    assert "'escalate'" in str(caught.value)


T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("state", ["submitted", "acknowledged"])
def test_reviewers_clock_runs_while_they_have_the_move(state: str) -> None:
    assert domain.waiting_since(state, T0) == T0


@pytest.mark.parametrize("state", ["needs_info", "approved", "rejected", "withdrawn"])
def test_reviewers_clock_stops_otherwise(state: str) -> None:
    assert domain.waiting_since(state, T0) is None


def test_review_not_stalled_before_n_days() -> None:
    assert domain.review_stalled(T0, None, T0 + timedelta(days=5) - timedelta(seconds=1), 5) is False


def test_review_stalled_at_n_days() -> None:
    assert domain.review_stalled(T0, None, T0 + timedelta(days=5), 5) is True


def test_review_after_reminder_not_stalled_until_n_more_days() -> None:
    reminded = T0 + timedelta(days=5)
    assert domain.review_stalled(T0, reminded, reminded + timedelta(days=4, hours=23), 5) is False
    assert domain.review_stalled(T0, reminded, reminded + timedelta(days=5), 5) is True


def test_reminder_from_before_the_clock_restarted_is_ignored() -> None:
    waiting = T0 + timedelta(days=10)
    assert domain.review_stalled(waiting, T0, waiting + timedelta(days=2), 5) is False


def test_review_not_waiting_is_never_stalled() -> None:
    assert domain.review_stalled(None, None, T0 + timedelta(days=365), 5) is False


# --- usage periods -------------------------------------------------------------------------------

def test_usage_period_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before periodStart"):
        domain.check_usage_period(date(2025, 2, 1), date(2025, 1, 31))


def test_usage_period_longer_than_a_year_is_refused() -> None:
    with pytest.raises(ValueError, match="at most a year"):
        domain.check_usage_period(date(2024, 1, 1), date(2024, 1, 1) + timedelta(days=367))


@pytest.mark.parametrize("days", [0, 1, 366])
def test_usage_period_up_to_366_days_is_fine(days: int) -> None:
    start = date(2024, 1, 1)
    assert refusal(domain.check_usage_period, start, start + timedelta(days=days)) is None
    # the edges are exact: a day before the start, or a day past 366, is refused
    assert "before periodStart" in str(refusal(domain.check_usage_period, start, start - timedelta(days=1)))
    assert "at most a year" in str(refusal(domain.check_usage_period, start, start + timedelta(days=367)))


# --- search --------------------------------------------------------------------------------------

def test_query_words_are_lower_cased() -> None:
    assert domain.query_words("Matematik ENGELSKA") == ["matematik", "engelska"]


def test_query_words_split_on_punctuation() -> None:
    assert domain.query_words("e-post, bild/film.ljud") == ["e", "post", "bild", "film", "ljud"]


def test_query_words_keep_swedish_letters() -> None:
    assert domain.query_words("Slöjd Ämne Åk") == ["slöjd", "ämne", "åk"]


def test_query_words_drop_underscores() -> None:
    assert domain.query_words("snake_case __x__") == ["snake", "case", "x"]


def test_query_words_drop_tsquery_syntax() -> None:
    assert domain.query_words("a & b | !c :* 'd' (e) f:*A") == ["a", "b", "c", "d", "e", "f", "a"]


def test_query_words_keep_digits() -> None:
    assert domain.query_words("Åk 4 3D-skrivare") == ["åk", "4", "3d", "skrivare"]


def test_query_words_are_at_most_eight() -> None:
    words = domain.query_words(" ".join(f"ord{i}" for i in range(12)))
    assert words == [f"ord{i}" for i in range(8)]
    assert len(words) == domain.MAX_QUERY_WORDS


def test_query_words_are_cut_at_40_characters() -> None:
    assert domain.query_words("a" * 50 + " kort") == ["a" * 40, "kort"]


def test_query_of_only_punctuation_has_no_words() -> None:
    assert domain.query_words(" &|!:*'() _ ") == []


def test_tsquery_joins_words_with_and() -> None:
    assert domain.tsquery_text(["ab", "cd"], {}) == "(ab) & (cd)"


def test_tsquery_last_word_of_three_letters_is_a_prefix_which_covers_the_word_itself() -> None:
    assert domain.tsquery_text(["bild", "matem"], {}) == "(bild) & (matem:*)"


def test_tsquery_only_last_word_is_a_prefix() -> None:
    assert ":*" not in domain.tsquery_text(["matem", "ab"], {})


def test_tsquery_last_word_of_exactly_three_letters_is_a_prefix() -> None:
    assert domain.tsquery_text(["åk", "bil"], {}) == "(åk) & (bil:*)"


def test_tsquery_short_last_word_is_not_a_prefix() -> None:
    assert domain.tsquery_text(["ma"], {}) == "(ma)"


def test_tsquery_adds_corrections_as_alternatives() -> None:
    text = domain.tsquery_text(["matmatik", "engleska"], {"matmatik": ["matematik", "matmatik"], "engleska": ["engelska"]})
    assert text == "(matmatik | matematik) & (engleska:* | engelska)"


def test_tsquery_of_one_word() -> None:
    assert domain.tsquery_text(["slöjd"], {}) == "(slöjd:*)"


def test_tsquery_repeats_no_correction() -> None:
    assert domain.tsquery_text(["matmatik"], {"matmatik": ["matematik", "matematik"]}) == "(matmatik:* | matematik)"


HOSTILE = [
    "'; DROP TABLE app; --",
    "a & !b | (c <-> d)",
    "foo:* bar:AB 'baz'",
    "\\' \\\\ \" `x`",
    "((((((((",
    "!!!",
    "matte <2> bild",
    "a\u0000b\tc\nd",
    "emoji 🎉 text",
    "İstanbul ß ﬁ ½ ²",
    "x" * 100 + " " + "y" * 3,
    "snake_case__word_",
    "中文 العربية русский",
    "",
]


@pytest.mark.parametrize("q", HOSTILE)
def test_tsquery_of_any_input_has_only_words_and_operators(q: str) -> None:
    words = domain.query_words(q)
    text = domain.tsquery_text(words, {})
    allowed_punctuation = set("()|&:* ")
    assert all(c.isalnum() or c in allowed_punctuation for c in text), text
    assert all(w and all(c.isalnum() for c in w) for w in words)
    assert len(words) <= domain.MAX_QUERY_WORDS
    assert all(len(w) <= 40 for w in words)


def test_check_filters_accepts_known_values() -> None:
    f = SearchFilters(subjects=("MA",), grades=("4",), school_types=("GR",), headings=("uppfoljning",), statuses=("approved",),
                      dpa_statuses=("signed",), kinds=("open",), platforms=("web",), languages=("xx",))
    assert refusal(domain.check_filters, f, ["approved", "under_review"]) is None
    # the same filters with one value the vocabulary lacks are refused, naming it
    unknown = refusal(domain.check_filters, replace(f, kinds=("open", "pirated")), ["approved", "under_review"])
    assert isinstance(unknown, Rejected) and unknown.field == "kind"


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        (SearchFilters(subjects=("MA", "MATTE")), "subject"),
        (SearchFilters(grades=("10",)), "grade"),
        (SearchFilters(school_types=("HS",)), "schoolType"),
        (SearchFilters(headings=("spel",)), "heading"),
        (SearchFilters(statuses=("banned",)), "status"),
        (SearchFilters(dpa_statuses=("maybe",)), "dpaStatus"),
        (SearchFilters(kinds=("pirated",)), "kind"),
        (SearchFilters(platforms=("symbian",)), "platform"),
    ],
)
def test_check_filters_names_the_bad_filter(filters: SearchFilters, field: str) -> None:
    with pytest.raises(Rejected) as caught:
        domain.check_filters(filters, ["approved", "under_review"])
    assert caught.value.field == field
    assert caught.value.status == 422
    assert f"unknown {field}" in str(caught.value)


def test_check_filters_statuses_come_from_the_district_list() -> None:
    assert refusal(domain.check_filters, SearchFilters(statuses=("pilot",)), ["pilot"]) is None
    with pytest.raises(Rejected):
        domain.check_filters(SearchFilters(statuses=("pilot",)), ["approved"])


def test_every_reason_has_both_languages_and_fills_in_its_facts() -> None:
    from services.catalog import vocabulary as vocab

    assert all(set(texts) == {"sv", "en"} for texts in vocab.REASONS.values())
    reasons = domain.approval_reasons(DataProtection.model_validate({"dataCategories": ["civic_no"], "processingCountries": ["US"]}), TODAY)
    assert [r.code for r in reasons] == ["no_signed_dpa", "transfer_without_safeguard", "sensitive_without_dpia"]
    assert all("{" not in r.text(lang) for r in reasons for lang in ("sv", "en"))


# --- a request's decision and the catalogue ------------------------------------------------------

NOT_APPROVED = StatusDefinition("not_approved", "Ej godkänd", "Not approved", allows_use=False)
PILOT = StatusDefinition("pilot", "Endast pilot", "Pilot only", allows_use=True)
LICENCE_NOW = (TODAY - timedelta(days=1), TODAY + timedelta(days=365))


def decide(**overrides: Any) -> domain.RequestApproval:
    """Approving a request of a GR school for a grade-5 app under review with a clean agreement; keywords replace facts."""
    facts: dict[str, Any] = {"current": UNDER_REVIEW, "wanted": APPROVED, "dp": signed(), "reviewed": True, "app_grades": ["4", "5", "6"],
                             "app_school_types": ["GR"], "free_use": False, "school_types": ["GR"], "licensed": False,
                             "licence_period": LICENCE_NOW, "requested_grades": ["5"], "today": TODAY}
    return domain.request_approval(**{**facts, **overrides})


def codes(plan: domain.RequestApproval) -> list[str]:
    return [b.code for b in plan.blockers]


def test_an_approval_with_a_clean_app_and_a_licence_changes_the_status() -> None:
    plan = decide()
    assert plan.blockers == [] and plan.status == APPROVED


def test_an_app_already_usable_keeps_its_status() -> None:
    assert decide(current=APPROVED, wanted=None, licensed=True, licence_period=None) == domain.RequestApproval(None, [])


def test_the_observed_case_not_approved_with_an_expired_agreement_is_refused_with_every_blocker() -> None:
    expired = signed(dpaExpires=TODAY - timedelta(days=1))
    plan = decide(current=NOT_APPROVED, wanted=APPROVED, dp=expired, licence_period=None)
    assert codes(plan) == ["dpa_expired", "licence_needed"]
    assert [b.text("sv") for b in plan.blockers][0] == f"Personuppgiftsbiträdesavtalet gick ut {TODAY - timedelta(days=1)}."
    assert "licence" in plan.blockers[1].text("en") and "licens" in plan.blockers[1].text("sv")


def test_the_same_rules_as_a_direct_approval_transfers_and_dpia() -> None:
    dp = DataProtection.model_validate({**signed().model_dump(), "dataCategories": ["civic_no"], "processingCountries": ["US"]})
    assert codes(decide(dp=dp)) == ["transfer_without_safeguard", "sensitive_without_dpia"]


def test_a_status_that_allows_no_use_cannot_be_what_an_approval_gives() -> None:
    assert codes(decide(wanted=NOT_APPROVED)) == ["decision_status_disallows_use"]
    assert codes(decide(wanted=None)) == ["decision_status_disallows_use"]  # under review, kept


def test_an_unreviewed_draft_cannot_be_approved_even_when_its_facts_say_no_personal_data() -> None:
    assert codes(decide(dp=DataProtection(), reviewed=False, free_use=True)) == ["dp_not_reviewed"]
    assert codes(decide(dp=DataProtection(), reviewed=True, free_use=True)) == []
    assert [r.code for r in domain.approval_reasons(DataProtection(), TODAY, reviewed=False)] == ["dp_not_reviewed"]
    blocked = refusal(lambda: domain.check_status_change(UNDER_REVIEW, APPROVED, DataProtection(), ["4"], TODAY, reviewed=False))
    assert isinstance(blocked, Rejected) and blocked.status == 409 and "has not yet reviewed" in str(blocked)


def test_the_school_must_be_able_to_use_it_school_types_and_grades() -> None:
    assert codes(decide(school_types=["GY"])) == ["not_for_school_types"]
    assert codes(decide(wanted=APPROVED_456, app_grades=["7", "8"], requested_grades=["7"])) == ["no_usable_grades"]
    assert codes(decide(wanted=APPROVED_456, app_grades=["5", "6", "7"], requested_grades=["7"])) == ["requested_grades_not_allowed"]
    assert codes(decide(wanted=APPROVED_456, app_grades=["5", "6", "7"], requested_grades=["6", "7"])) == []


def test_a_licence_is_needed_unless_free_or_held_and_must_be_valid_today() -> None:
    assert codes(decide(licence_period=None)) == ["licence_needed"]
    assert codes(decide(licence_period=None, free_use=True)) == []
    assert codes(decide(licence_period=None, licensed=True)) == []
    later = (TODAY + timedelta(days=10), TODAY + timedelta(days=300))
    assert codes(decide(licence_period=later)) == ["licence_not_current"]


def test_a_retired_app_cannot_be_approved() -> None:
    assert codes(decide(current=RETIRED, wanted=None)) == ["app_retired"]


def test_approved_and_unavailable_at_the_school_are_never_both_true() -> None:
    """Every combination of statuses, data protection, school, grades and licence: an approvable request leaves the app
    available at the school, and what a direct approval to that status would refuse, the request's approval refuses too."""
    dps = {"signed": signed(), "expired": signed(dpaExpires=TODAY - timedelta(days=1)), "none": DataProtection(), "unreviewed": DataProtection()}
    licences = [(True, False, None), (False, True, None), (False, False, None), (False, False, LICENCE_NOW),
                (False, False, (TODAY + timedelta(days=1), TODAY + timedelta(days=9)))]
    approvable = 0
    for current, wanted, dp_kind, school_types, app_grades, (free_use, licensed, period) in itertools.product(
            [UNDER_REVIEW, APPROVED, APPROVED_456, NOT_APPROVED, LAPSED, PILOT], [None, APPROVED, APPROVED_456, NOT_APPROVED, PILOT],
            dps, [["GR"], ["GY"]], [["4", "5"], ["7", "8"]], licences):
        reviewed = dp_kind != "unreviewed"
        plan = decide(current=current, wanted=wanted, dp=dps[dp_kind], reviewed=reviewed, school_types=school_types, app_grades=app_grades,
                      free_use=free_use, licensed=licensed, licence_period=period, requested_grades=[])
        status = plan.status or current
        holds_licence = licensed or (period is not None and period[0] <= TODAY <= period[1])
        available, why = domain.availability(status=status, app_grades=app_grades, app_school_types=["GR"], free_use=free_use,
                                             school_types=school_types, licensed=holds_licence)
        case = (current.code, wanted and wanted.code, dp_kind, school_types, app_grades, free_use, licensed, period)
        if not plan.blockers:
            approvable += 1
            assert available, (case, why.text("en"))
        if status.allows_use and domain.approval_blockers(dps[dp_kind], TODAY, reviewed=reviewed):
            assert plan.blockers, case
        assert all("{" not in b.text(lang) for b in plan.blockers for lang in ("sv", "en")), case
    assert approvable > 50  # the grid has approvable cases, so the first assertion is exercised


def test_a_refusal_is_one_sentence_per_blocker_in_the_readers_language() -> None:
    plan = decide(licence_period=None, school_types=["GY"])
    assert domain.decision_refusal("Räknestigen", plan.blockers, "sv").startswith("Begäran kan inte godkännas: Räknestigen")
    assert domain.decision_refusal("Räknestigen", plan.blockers, "en").endswith(plan.blockers[-1].text("en"))


def test_a_draft_from_a_request_is_made_from_the_proposal_and_the_school() -> None:
    draft = domain.draft_app({"name": "Ordjakten", "supplier": "", "url": "https://ordjakten.se", "description": ""}, "Ordträning i åk 2",
                             [], ["FKLASS", "GR"], {})
    assert (draft.name, draft.supplier, draft.description, draft.url) == ("Ordjakten", domain.UNKNOWN_SUPPLIER, "Ordträning i åk 2", "https://ordjakten.se")
    assert draft.grades == ["F", *[str(n) for n in range(1, 10)]] and draft.schoolTypes == ["FKLASS", "GR"]
    assert draft.dataProtection == DataProtection() and draft.freeUse is False
    corrected = domain.draft_app({"name": "Ordjakten"}, "x", ["2"], ["GR"], {"subjects": ["SV"], "supplier": "Ordlek AB"})
    assert corrected.subjects == ["SV"] and corrected.supplier == "Ordlek AB" and corrected.grades == ["2"]
    with pytest.raises(ValidationError):
        domain.draft_app({"name": "Ordjakten"}, "x", ["2"], ["GR"], {"subjects": ["XX"]})
