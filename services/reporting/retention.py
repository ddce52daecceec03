"""How long reporting keeps what it holds, by data class (shared/retention.py; the periods in
docs/privacy.md).

Reporting holds no raw data about persons: its read models are per school (levels, pulse means of groups
of 5 or more, figures, counts), and the two staff ids it keeps (indicator_definition.defined_by,
published_report.published_by) are the record of a configuration and a publication, kept with them. What
it can let go of is technical: the ids of applied events and the events it published.
"""

from __future__ import annotations

from shared.retention import Rule, messaging

RULES: tuple[Rule, ...] = messaging()
