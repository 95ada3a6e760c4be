"""Technician-facing text in zh-CN (default) and English: prompts and remedies."""

from __future__ import annotations

from hardware.health import RecommendedAction

__all__ = ["PROMPTS", "REMEDIES", "TEXT", "prompt_text", "remedy", "text"]

PROMPTS: dict[str, dict[str, str]] = {
    "place_card": {"zh": "请将身份证放在读卡区……", "en": "Place an ID card on the reader…"},
    "remove_card": {"zh": "请取走身份证。", "en": "Remove the ID card."},
    "replace_card": {"zh": "请重新放置身份证并保持不动。", "en": "Place the card again and keep it still."},
    "place_finger": {"zh": "请将手指放在指纹仪上……", "en": "Place a finger on the scanner…"},
    "place_finger_again": {"zh": "请再次放置同一手指……", "en": "Place the same finger again…"},
    "lift_finger": {"zh": "请抬起手指。", "en": "Lift the finger."},
    "place_document": {"zh": "请将文件放在高拍仪下……", "en": "Place a page under the document camera…"},
    "take_ticket": {"zh": "请取走测试小票。", "en": "Take the test ticket."},
}
"""Prompt name → localised text; unknown prompts are shown by name."""

REMEDIES: dict[RecommendedAction, dict[str, str]] = {
    RecommendedAction.NONE: {"zh": "", "en": ""},
    RecommendedAction.RESET: {
        "zh": "复位设备：重新插拔或重启服务后再试",
        "en": "Reset the device: replug it or restart the service, then retry",
    },
    RecommendedAction.SOFTWARE: {
        "zh": "软件或配置错误：请将诊断报告提交给开发人员",
        "en": "Software error: send this report to the developers",
    },
    RecommendedAction.CONFIG: {
        "zh": "检查配置：端口、波特率、地址、密码",
        "en": "Check the configuration: port, baud rate, address, password",
    },
    RecommendedAction.CLEAR_HW: {
        "zh": "清除卡纸或异物后再试",
        "en": "Clear the jam or obstruction, then retry",
    },
    RecommendedAction.MAINTENANCE: {
        "zh": "需要技术人员检修或更换设备",
        "en": "A technician must repair or replace the device",
    },
    RecommendedAction.SUSPENDED: {
        "zh": "设备正在自动恢复，请稍后再试",
        "en": "The device is recovering by itself; retry shortly",
    },
}

TEXT: dict[str, dict[str, str]] = {
    "pass": {"zh": "通过", "en": "PASS"},
    "fail": {"zh": "失败", "en": "FAIL"},
    "configured": {"zh": "已配置设备", "en": "Configured devices"},
    "detected_serial": {"zh": "检测到的串口", "en": "Detected serial ports"},
    "detected_video": {"zh": "检测到的视频设备", "en": "Detected video devices"},
    "none": {"zh": "（无）", "en": "(none)"},
    "checking": {"zh": "正在检查", "en": "Checking"},
    "remedy": {"zh": "处理建议", "en": "Remedy"},
    "no_devices": {
        "zh": "没有配置设备：请使用 --device 或 --config",
        "en": "No devices: use --device or --config",
    },
    "card_read": {"zh": "读卡成功（已脱敏）", "en": "Card read (masked)"},
    "focus": {"zh": "清晰度", "en": "Focus"},
    "no_focus": {
        "zh": "该设备不支持清晰度测量",
        "en": "This device does not provide a focus measurement",
    },
}


def text(key: str, lang: str) -> str:
    """Localised UI text."""
    return TEXT[key].get(lang, TEXT[key]["en"])


def prompt_text(name: str, lang: str) -> str:
    """Localised prompt (falls back to the prompt name)."""
    entry = PROMPTS.get(name)
    return entry.get(lang, entry["en"]) if entry else name


def remedy(action: RecommendedAction, lang: str) -> str:
    """Localised remedy for a recommended action."""
    entry = REMEDIES[action]
    return entry.get(lang, entry["en"])
