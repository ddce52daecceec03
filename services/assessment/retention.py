"""How long assessment keeps what it holds, by data class (shared/retention.py; the periods in
docs/privacy.md).

The pulse keeps counts per school, group, heading and level (never a row per respondent, decision 0004).
They are the raw material of the pulse: once the round is closed nothing can add to them or submit them
again, and what reporting needs went out in AssessmentSubmitted (means of groups of 5 or more). So the
counts of a closed round go a while after closing; the round's own pulse view then shows no answers.
"""

from __future__ import annotations

from shared.retention import Rule, messaging

CLOSED_ROUND = "EXISTS (SELECT 1 FROM campaign c WHERE c.id = {table}.campaign_id AND c.status = 'closed' AND c.closed_at < $1)"

RULES: tuple[Rule, ...] = (
    Rule("pulse", "pulse_tally", CLOSED_ROUND.format(table="pulse_tally"), 30,
         "The pulse's counts per school, group, heading and level (pulse_tally, pulse_respondents), once their round has been "
         "closed this long: aggregated by then into AssessmentSubmitted and reporting's pulse means."),
    Rule("pulse", "pulse_respondents", CLOSED_ROUND.format(table="pulse_respondents"), 30,
         "The pulse's respondent counts, with the tally."),
    Rule("audit-log", "audit_log", "at < $1", 1825,
         "The audit trail of assessments, actions and rounds (with the comments and texts it copies), after five years."),
    *messaging(),
)
