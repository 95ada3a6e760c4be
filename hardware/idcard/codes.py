"""Code tables for ID-card readers: SW3 status words, gender and ethnicity (spec §1.4, §1.7).

Status words map to exceptions through :data:`SW3_TABLE`, not an if-ladder.
"""

from __future__ import annotations

from dataclasses import dataclass

from hardware.errors import HardwareError
from hardware.idcard.errors import (
    CardNotPresent,
    CardNotSupported,
    CardReadInterrupted,
    CardRejected,
    CardUserError,
    IdCardStatusError,
    SamFailure,
)

__all__ = [
    "ETHNICITY",
    "GENDER",
    "SW3_FOUND",
    "SW3_NO_CONTENT",
    "SW3_OK",
    "SW3_TABLE",
    "Sw3Info",
    "error_for_sw3",
]

SW3_OK = 0x90
SW3_FOUND = 0x9F
SW3_NO_CONTENT = 0x91


@dataclass(frozen=True, slots=True)
class Sw3Info:
    """Meaning of one SW3 value and the exception it raises (None for success codes)."""

    meaning: str
    meaning_zh: str
    error: type[IdCardStatusError] | type[CardUserError] | None


SW3_TABLE: dict[int, Sw3Info] = {
    0x90: Sw3Info("operation successful", "操作成功", None),
    0x9F: Sw3Info("find card successful", "寻找证/卡成功", None),
    0x91: Sw3Info("no content for this item", "证/卡中此项无内容", None),
    0x10: Sw3Info("received data checksum error", "接收业务终端数据的校验和错", IdCardStatusError),
    0x11: Sw3Info("received data length error", "接收业务终端数据的长度错", IdCardStatusError),
    0x21: Sw3Info("received command error", "接收业务终端的命令错误", IdCardStatusError),
    0x23: Sw3Info("unauthorised operation", "越权操作", IdCardStatusError),
    0x24: Sw3Info("unrecognised error", "无法识别的错误", IdCardStatusError),
    0x31: Sw3Info("card failed to authenticate the SAM", "证/卡认证SAM失败", CardRejected),
    0x32: Sw3Info("SAM failed to authenticate the card", "SAM认证证/卡失败", CardRejected),
    0x33: Sw3Info("information validation error", "信息验证失败", CardRejected),
    0x40: Sw3Info("unrecognised card type", "无法识别的卡类型", CardNotSupported),
    0x41: Sw3Info("card operation failed", "读证/卡操作失败", CardReadInterrupted),
    0x47: Sw3Info("random number generation failed", "取随机数失败", SamFailure),
    0x60: Sw3Info("SAM self-test failed", "SAM自检失败", SamFailure),
    0x66: Sw3Info("SAM not authorised", "SAM未经授权", SamFailure),
    0x80: Sw3Info("find card failed", "寻找证/卡失败", CardNotPresent),
    0x81: Sw3Info("select card failed", "选取证/卡失败", CardNotPresent),
}
"""SW3 → meaning and exception (HslCommunication table, cross-checked, spec §1.4)."""


def error_for_sw3(sw3: int, command: str) -> HardwareError:
    """The exception for a failure SW3 in reply to ``command`` (unknown codes included)."""
    info = SW3_TABLE.get(sw3)
    if info is None or info.error is None:
        text = "unexpected status" if info is None else info.meaning
        return IdCardStatusError(f"{command}: SW3 0x{sw3:02X} ({text})", status=sw3, meaning=text)
    message = f"{command}: SW3 0x{sw3:02X} ({info.meaning})"
    if issubclass(info.error, IdCardStatusError):
        return info.error(message, status=sw3, meaning=info.meaning)
    return info.error(message, status=sw3)


GENDER: dict[str, str] = {"0": "unknown", "1": "male", "2": "female", "9": "unspecified"}
"""GB/T 2261.1 gender codes as readers report them (never 'anything else is female')."""

_ETHNICITY_NAMES = [
    "汉",
    "蒙古",
    "回",
    "藏",
    "维吾尔",
    "苗",
    "彝",
    "壮",
    "布依",
    "朝鲜",
    "满",
    "侗",
    "瑶",
    "白",
    "土家",
    "哈尼",
    "哈萨克",
    "傣",
    "黎",
    "傈僳",
    "佤",
    "畲",
    "高山",
    "拉祜",
    "水",
    "东乡",
    "纳西",
    "景颇",
    "柯尔克孜",
    "土",
    "达斡尔",
    "仫佬",
    "羌",
    "布朗",
    "撒拉",
    "毛南",
    "仡佬",
    "锡伯",
    "阿昌",
    "普米",
    "塔吉克",
    "怒",
    "乌孜别克",
    "俄罗斯",
    "鄂温克",
    "德昂",
    "保安",
    "裕固",
    "京",
    "塔塔尔",
    "独龙",
    "鄂伦春",
    "赫哲",
    "门巴",
    "珞巴",
    "基诺",
]

ETHNICITY: dict[str, str] = {
    **{f"{i:02d}": name for i, name in enumerate(_ETHNICITY_NAMES, start=1)},
    "97": "其他",
    "98": "外国血统中国籍人士",
}
"""Two-digit ethnicity code → name (GB 3304; 01 汉 … 56 基诺, 97, 98)."""
