"""The rating content shown on the kiosk (好差评): levels and the reasons offered for a 差评.

The content is versioned (service-rules.md §2.2: set nationally or provincially; locals may not add
or remove indicators). Every rating stores the ``content_version`` the kiosk showed; a rating whose
version or reason codes this office does not know is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CONTENT_VERSION", "LEVELS", "REASONS", "Reason", "is_bad", "known_reason", "known_version"]

#: The content version this office serves (offline service, 一次一评).
CONTENT_VERSION = "2026.1"
#: Versions whose ratings are still accepted (a kiosk may show the previous content for a while).
_ACCEPTED_VERSIONS = frozenset({CONTENT_VERSION})

#: Level → (zh label, en label); 5 is best.
LEVELS: dict[int, tuple[str, str]] = {
    5: ("非常满意", "Very satisfied"),
    4: ("满意", "Satisfied"),
    3: ("基本满意", "Fairly satisfied"),
    2: ("不满意", "Dissatisfied"),
    1: ("非常不满意", "Very dissatisfied"),
}


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason a resident may tick for a 差评 (grouped by the offline dimensions)."""

    code: str
    zh: str
    en: str


#: Reasons for levels 1–2: the offline dimensions 服务效率 / 服务水平 / 服务态度 plus the kiosk itself.
REASONS: tuple[Reason, ...] = (
    Reason("slow", "办理时间长", "It took too long"),
    Reason("wait_long", "排队等候久", "I waited too long"),
    Reason("unclear_guidance", "告知不清楚", "Requirements were not explained clearly"),
    Reason("repeat_visit", "需要多次跑", "I have to come back again"),
    Reason("not_resolved", "问题没解决", "My matter was not resolved"),
    Reason("attitude", "服务态度差", "Staff were impolite"),
    Reason("unprofessional", "业务不熟练", "Staff did not know the procedure"),
    Reason("video_poor", "视频声音不清楚", "Video or sound was poor"),
    Reason("kiosk_hard", "设备不好用", "The kiosk was hard to use"),
    Reason("other", "其他", "Other"),
)
_CODES = frozenset(r.code for r in REASONS)


def known_reason(code: str) -> bool:
    """Whether ``code`` is a reason of the current content."""
    return code in _CODES


def known_version(version: str) -> bool:
    """Whether ratings made with content ``version`` are accepted."""
    return version in _ACCEPTED_VERSIONS


def is_bad(level: int) -> bool:
    """差评: levels 2 (不满意) and 1 (非常不满意)."""
    return level <= 2
