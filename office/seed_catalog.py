"""The seeded service catalog: the seven categories and 36 services a community station offers.

Each service carries its complete material list for the one-time notice (一次性告知), its legal time
limit in working days, the expected handling minutes, whether an ID card, fingerprint or appointment
is needed, and the agent skill. Idempotent: services whose code exists are left alone (an
administrator may have revised them).
"""

from __future__ import annotations

from sqlalchemy import select

from office.audit import Actor
from office.catalog import MaterialSpec, ServiceSpec, create_in, ensure_categories
from office.context import OfficeContext
from office.models import Service

__all__ = ["SEED_SERVICES", "seed_catalog"]

_O, _C, _B = "original", "copy", "original_and_copy"


def _m(
    name: str,
    name_en: str,
    count: int = 1,
    form: str = _O,
    notes: str = "",
    notes_en: str = "",
    issuer: str = "",
) -> MaterialSpec:
    return MaterialSpec(
        name=name, name_en=name_en, count=count, form=form, notes=notes, notes_en=notes_en, issuer=issuer
    )


ID = _m(
    "居民身份证",
    "Resident ID card",
    notes="本人有效身份证件；代办另需代办人身份证",
    notes_en="The applicant's valid ID; an agent also brings their own",
    issuer="公安机关",
)
HUKOU = _m(
    "户口簿",
    "Household register (hukou booklet)",
    form=_B,
    notes="户主页及本人页",
    notes_en="Head-of-household page and the applicant's page",
    issuer="公安机关",
)
PHOTO = _m(
    "近期一寸免冠彩色照片",
    "Recent 1-inch colour photo, bareheaded",
    count=2,
    notes="白色背景；也可现场采集",
    notes_en="White background; can be taken on site",
)
BANK = _m(
    "本人银行卡或存折",
    "The applicant's bank card or passbook",
    form=_C,
    notes="用于发放待遇",
    notes_en="For payments",
)
APPLY = _m(
    "申请表",
    "Application form",
    notes="现场填写或由工作人员代填",
    notes_en="Filled in on site or by the agent",
)
INCOME = _m(
    "家庭收入及财产情况说明",
    "Statement of household income and assets",
    notes="家庭成员逐一填写并签字",
    notes_en="Each household member fills in and signs",
)
MEDICAL = _m(
    "医疗机构诊断证明",
    "Hospital diagnosis certificate",
    form=_B,
    notes="二级及以上医院出具",
    notes_en="From a grade-2 or higher hospital",
    issuer="医疗机构",
)
HOUSE = _m(
    "房屋所有权证或租赁合同",
    "Property certificate or tenancy contract",
    form=_B,
    notes="证明在本社区居住",
    notes_en="Proves residence in the community",
)
AUTH = _m(
    "授权委托书",
    "Power of attorney",
    notes="委托他人代办时提供",
    notes_en="Only when someone applies on the resident's behalf",
)


def _s(
    code: str,
    category: str,
    prefix: str,
    name: str,
    name_en: str,
    days: int,
    minutes: int,
    materials: list[MaterialSpec],
    *,
    skill: str = "",
    fingerprint: bool = False,
    appointment: bool = False,
    id_card: bool = True,
    basis: str = "",
) -> ServiceSpec:
    return ServiceSpec(
        code=code,
        category=category,
        queue_prefix=prefix,
        name=name,
        name_en=name_en,
        time_limit_days=days,
        expected_minutes=minutes,
        materials=materials,
        skill=skill,
        needs_fingerprint=fingerprint,
        needs_appointment=appointment,
        needs_id_card=id_card,
        legal_basis=basis,
    )


#: The seeded services (codes are stable identifiers).
SEED_SERVICES: tuple[ServiceSpec, ...] = (
    # 政务服务 (A)
    _s(
        "GOV-SSC-APPLY",
        "government",
        "A",
        "社会保障卡申领",
        "Social security card application",
        5,
        10,
        [ID, PHOTO],
        skill="social_security",
        basis="《社会保险法》第五十八条",
    ),
    _s(
        "GOV-SSC-REPLACE",
        "government",
        "A",
        "社会保障卡挂失补换",
        "Social security card loss report and replacement",
        5,
        8,
        [
            ID,
            PHOTO,
            _m(
                "原社会保障卡",
                "The old card",
                notes="损坏换卡时提供",
                notes_en="When replacing a damaged card",
            ),
        ],
        skill="social_security",
    ),
    _s(
        "GOV-PENSION-CERT",
        "government",
        "A",
        "养老保险待遇领取资格认证",
        "Pension eligibility certification",
        0,
        8,
        [ID],
        skill="social_security",
        fingerprint=True,
    ),
    _s(
        "GOV-MEDINS-ENROLL",
        "government",
        "A",
        "城乡居民基本医疗保险参保登记",
        "Residents' basic medical insurance enrollment",
        0,
        10,
        [ID, HUKOU],
        skill="social_security",
    ),
    _s(
        "GOV-FLEX-INSURE",
        "government",
        "A",
        "灵活就业人员社会保险登记",
        "Social insurance registration for flexible employment",
        0,
        12,
        [ID, BANK, APPLY],
        skill="social_security",
    ),
    _s(
        "GOV-UNEMPLOY-REG",
        "government",
        "A",
        "失业登记",
        "Unemployment registration",
        0,
        10,
        [
            ID,
            _m("解除或终止劳动合同证明", "Certificate of contract termination", form=_B, issuer="原用人单位"),
        ],
        skill="employment",
    ),
    _s(
        "GOV-MATERNITY",
        "government",
        "A",
        "生育津贴申领",
        "Maternity allowance claim",
        10,
        12,
        [ID, _m("出生医学证明", "Medical birth certificate", form=_C, issuer="助产机构"), BANK],
        skill="social_security",
    ),
    _s(
        "GOV-DIBAO",
        "government",
        "A",
        "最低生活保障申请",
        "Minimum living allowance (dibao) application",
        30,
        20,
        [ID, HUKOU, INCOME, APPLY, BANK],
        skill="civil_affairs",
        basis="《社会救助暂行办法》",
    ),
    _s(
        "GOV-ELDER-ALLOW",
        "government",
        "A",
        "高龄老人津贴申请",
        "Old-age allowance application (80 and over)",
        20,
        8,
        [ID, HUKOU, BANK, AUTH],
        skill="civil_affairs",
    ),
    _s(
        "GOV-DISABILITY-CARD",
        "government",
        "A",
        "残疾人证申领",
        "Disability certificate application",
        20,
        15,
        [ID, HUKOU, PHOTO, MEDICAL],
        skill="civil_affairs",
        appointment=True,
    ),
    _s(
        "GOV-HUKOU-PROOF",
        "government",
        "A",
        "户籍证明开具",
        "Household registration certificate",
        1,
        6,
        [ID, HUKOU],
        skill="household",
    ),
    _s(
        "GOV-RESIDENCE-PERMIT",
        "government",
        "A",
        "居住证申领",
        "Residence permit application",
        15,
        12,
        [ID, PHOTO, HOUSE],
        skill="household",
        fingerprint=True,
        basis="《居住证暂行条例》",
    ),
    # 生活服务 (B)
    _s(
        "LIFE-UTILITY",
        "life",
        "B",
        "水电燃气缴费及过户",
        "Water, power and gas payment or account transfer",
        3,
        8,
        [ID, HOUSE, _m("最近一期缴费单据", "Latest utility bill", form=_C)],
        id_card=True,
    ),
    _s(
        "LIFE-HOUSING-FUND",
        "life",
        "B",
        "住房公积金提取",
        "Housing provident fund withdrawal",
        3,
        12,
        [
            ID,
            BANK,
            _m(
                "提取原因证明材料",
                "Proof of the withdrawal reason",
                form=_C,
                notes="购房合同、租房合同或退休证明等",
                notes_en="Purchase or tenancy contract, retirement certificate, etc.",
            ),
        ],
        skill="housing",
    ),
    _s(
        "LIFE-PUBLIC-RENTAL",
        "life",
        "B",
        "公共租赁住房申请",
        "Public rental housing application",
        30,
        20,
        [ID, HUKOU, INCOME, APPLY],
        skill="housing",
    ),
    _s(
        "LIFE-ELDER-MEAL", "life", "B", "老年助餐服务登记", "Elderly meal-assistance registration", 0, 6, [ID]
    ),
    _s(
        "LIFE-HOME-CARE",
        "life",
        "B",
        "居家养老服务申请",
        "Home-based elderly care application",
        15,
        15,
        [ID, HUKOU, APPLY, AUTH],
        skill="civil_affairs",
    ),
    # 法律服务 (C)
    _s(
        "LEGAL-AID",
        "legal",
        "C",
        "法律援助申请",
        "Legal aid application",
        7,
        20,
        [
            ID,
            APPLY,
            _m("经济困难状况说明", "Statement of financial hardship"),
            _m("与案件有关的材料", "Documents about the case", form=_C),
        ],
        skill="legal",
        basis="《法律援助法》",
    ),
    _s(
        "LEGAL-CONSULT",
        "legal",
        "C",
        "法律咨询",
        "Legal consultation",
        0,
        20,
        [],
        skill="legal",
        id_card=False,
    ),
    _s(
        "LEGAL-MEDIATION",
        "legal",
        "C",
        "人民调解申请",
        "People's mediation application",
        30,
        20,
        [ID, _m("纠纷情况说明及相关证据", "Description of the dispute and evidence", form=_C)],
        skill="legal",
        basis="《人民调解法》",
    ),
    _s(
        "LEGAL-NOTARY",
        "legal",
        "C",
        "公证事项咨询与预约",
        "Notarization guidance and booking",
        0,
        10,
        [ID],
        skill="legal",
        appointment=True,
    ),
    # 健康服务 (D)
    _s(
        "HEALTH-FAMILY-DOCTOR",
        "health",
        "D",
        "家庭医生签约",
        "Family doctor contract",
        0,
        8,
        [ID, _m("医保卡或社会保障卡", "Medical insurance or social security card")],
        skill="health",
    ),
    _s(
        "HEALTH-ELDER-CHECK",
        "health",
        "D",
        "65岁以上老年人免费体检预约",
        "Free health check for residents aged 65+",
        0,
        6,
        [ID],
        skill="health",
        appointment=True,
    ),
    _s(
        "HEALTH-REIMBURSE",
        "health",
        "D",
        "医疗费用零星报销",
        "Reimbursement of medical expenses",
        30,
        15,
        [ID, BANK, _m("医疗费用发票", "Medical invoices"), _m("费用明细清单", "Itemised bill"), MEDICAL],
        skill="social_security",
    ),
    _s(
        "HEALTH-CHRONIC",
        "health",
        "D",
        "门诊慢特病待遇认定",
        "Chronic disease outpatient benefit",
        15,
        12,
        [ID, MEDICAL, _m("近期检查报告", "Recent test reports", form=_C)],
        skill="health",
    ),
    # 文化服务 (E)
    _s(
        "CULTURE-ROOM",
        "culture",
        "E",
        "社区文化活动室预约",
        "Community activity room booking",
        0,
        5,
        [ID],
        appointment=True,
    ),
    _s("CULTURE-LIBRARY", "culture", "E", "图书借阅证办理", "Library card", 0, 5, [ID]),
    _s(
        "CULTURE-GROUP",
        "culture",
        "E",
        "社区文体团队登记",
        "Community arts and sports group registration",
        5,
        10,
        [ID, APPLY, _m("团队成员名单", "List of group members")],
    ),
    # 社区管理 (F)
    _s(
        "COMM-RESIDENCE-PROOF",
        "community",
        "F",
        "居住证明开具",
        "Proof of residence",
        1,
        6,
        [ID, HOUSE],
        skill="community",
    ),
    _s(
        "COMM-RENTAL-REG",
        "community",
        "F",
        "房屋租赁登记备案",
        "Rental registration",
        3,
        10,
        [
            ID,
            HOUSE,
            _m("租赁合同", "Tenancy contract", form=_B),
            _m("承租人身份证复印件", "Copy of the tenant's ID", form=_C),
        ],
        skill="community",
    ),
    _s(
        "COMM-PARKING",
        "community",
        "F",
        "居民停车证办理",
        "Resident parking permit",
        5,
        8,
        [ID, HOUSE, _m("机动车行驶证", "Vehicle registration certificate", form=_B)],
        skill="community",
    ),
    _s("COMM-VOLUNTEER", "community", "F", "志愿者注册", "Volunteer registration", 0, 5, [ID]),
    _s(
        "COMM-COMPLAINT",
        "community",
        "F",
        "社区诉求受理",
        "Community requests and complaints",
        15,
        10,
        [],
        id_card=False,
    ),
    # 党群服务 (G)
    _s(
        "PARTY-TRANSFER",
        "party",
        "G",
        "党员组织关系转接",
        "Party membership transfer",
        5,
        10,
        [ID, _m("党员组织关系介绍信", "Party membership transfer letter")],
        skill="party",
    ),
    _s(
        "PARTY-FLOW",
        "party",
        "G",
        "流动党员登记",
        "Mobile Party member registration",
        3,
        8,
        [ID, _m("流动党员活动证", "Mobile Party member card")],
        skill="party",
    ),
    _s(
        "PARTY-UNION",
        "party",
        "G",
        "工会会员入会登记",
        "Trade union membership registration",
        5,
        8,
        [ID, APPLY],
    ),
)


def seed_catalog(ctx: OfficeContext) -> int:
    """Create the categories and any seeded service that does not exist yet; returns how many."""
    actor = Actor("system", "seed")
    created = 0
    with ctx.db() as s, s.begin():
        ensure_categories(s)
        existing = set(s.scalars(select(Service.code)))
        for spec in SEED_SERVICES:
            if spec.code not in existing:
                create_in(s, spec, actor, ctx.clock.now())
                created += 1
    return created
