"""Cases (办件) and the personal data captured for them: lifecycle table, numbering, due dates,
identities, verifications, documents (encrypted at rest) and upload validation.

Errors reach clients as :class:`office.errors.ApiError`; the pure parts raise their own
``ValueError`` subclasses (:class:`~office.cases.lifecycle.IllegalCaseTransition`,
:class:`~office.cases.uploads.UploadRejected`), translated at one boundary each.
"""

from office.cases.lifecycle import CASE_TRANSITIONS, IllegalCaseTransition, case_next
from office.cases.overdue import process_overdue
from office.cases.uploads import UploadRejected, validate_upload

__all__ = [
    "CASE_TRANSITIONS",
    "IllegalCaseTransition",
    "UploadRejected",
    "case_next",
    "process_overdue",
    "validate_upload",
]
