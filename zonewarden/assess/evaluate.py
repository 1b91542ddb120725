"""Whether an answer meets its requirement on a given day, and why not."""

from __future__ import annotations

import datetime as dt

from zonewarden.assess.model import Answer

MET_STATUSES = ("implemented", "compensated", "not-applicable")


def evaluate(answer: Answer | None, day: dt.date) -> tuple[bool, str]:
    """(met, reason). Met: implemented or compensated (with the countermeasure described) and not
    resting only on expired evidence; not-applicable with a justification."""
    if answer is None:
        return False, "not answered"
    status = answer.status
    if status == "not-applicable":
        if not answer.justification:
            return False, "not-applicable without a justification"
        return True, "not applicable: " + answer.justification
    if status == "compensated" and not answer.compensation:
        return False, "compensated without a described countermeasure"
    if status in ("implemented", "compensated"):
        if answer.evidence and not any(e.valid_on(day) for e in answer.evidence):
            expired = [e for e in answer.evidence if e.expires is not None and e.expires < day]
            if expired:
                return False, f"evidence expired ({', '.join(str(e.expires) for e in expired)})"
            return False, "evidence not yet in effect"
        return True, status
    return False, status
