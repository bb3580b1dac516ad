"""Who issues invoices where: regions, billing systems, taxpayers and invoice numbers.

Everything here is drawn from a caller's ``random.Random``, so a seed reproduces a run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pipeline.taxpayer import USCC_ALPHABET, uscc_check_char


@dataclass(frozen=True, slots=True)
class Region:
    """A GB/T 2260 region with the districts its sellers are registered in."""

    code: str
    city: str
    slug: str
    weight: int
    districts: tuple[str, ...]

    @property
    def province(self) -> str:
        """The two-digit province code that invoice numbers carry (Beijing: 11)."""
        return self.code[:2]


#: Beijing is the motivating case and the largest share of traffic.
REGIONS: tuple[Region, ...] = (
    Region("110000", "北京", "beijing", 40, ("110101", "110105", "110108", "110114")),
    Region("310000", "上海", "shanghai", 15, ("310101", "310104", "310115")),
    Region("440300", "深圳", "shenzhen", 12, ("440303", "440304", "440305")),
    Region("440100", "广州", "guangzhou", 8, ("440103", "440106")),
    Region("330100", "杭州", "hangzhou", 8, ("330102", "330106")),
    Region("320500", "苏州", "suzhou", 7, ("320505", "320506")),
    Region("510100", "成都", "chengdu", 5, ("510104", "510107")),
    Region("120000", "天津", "tianjin", 5, ("120101", "120116")),
)
REGION_BY_CODE = {region.code: region for region in REGIONS}

#: Billing systems used everywhere; each region also has its own ``erp-<city>``.
NATIONAL_SOURCES: tuple[tuple[str, int], ...] = (
    ("sap-s4hana", 4), ("kingdee-cloud", 3), ("yonyou-nc", 3), ("pos-retail", 2),
    ("ecommerce-checkout", 2),
)

_BRANDS = ("华信", "中科", "京东方", "恒达", "远景", "博雅", "瑞丰", "天成", "宏图", "星辰",
           "安泰", "金桥", "润华", "新源", "鼎盛", "海川")
_TRADES = ("科技", "贸易", "信息技术", "餐饮管理", "建筑工程", "物流", "医药", "文化传媒",
           "电子商务", "咨询")
_SURNAMES = "王李张刘陈杨赵黄周吴"
_GIVEN = "伟芳娜敏静磊洋艳勇军杰娟涛明超"
# GB 11714 organisation code: character values (digits, then A=10 .. Z=35) and weights.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def pick_region(rng: random.Random) -> Region:
    """A region, weighted (Beijing about 40%)."""
    return rng.choices(REGIONS, weights=[r.weight for r in REGIONS])[0]


def pick_source(rng: random.Random, region: Region) -> str:
    """The billing system of an invoice: the region's own ERP half of the time."""
    if rng.random() < 0.5:
        return f"erp-{region.slug}"
    names = [name for name, _ in NATIONAL_SOURCES]
    return rng.choices(names, weights=[weight for _, weight in NATIONAL_SOURCES])[0]


def ack_channel(region: Region) -> str:
    """The tax channel that sends acknowledgements for a region (乐企 direct connection)."""
    return f"leqi-{region.slug}"


def _org_code(rng: random.Random) -> str:
    """A GB 11714 organisation code (8 characters and its check character)."""
    if rng.random() < 0.6:  # codes issued since 2015 mostly start with MA
        body = "MA" + "".join(rng.choice(_ORG_BODY_CHARS) for _ in range(6))
    else:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    total = sum(int(char, 36) * weight for char, weight in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body + ("X" if check == 10 else "0" if check == 11 else str(check))


def draw_uscc(rng: random.Random, region: Region) -> str:
    """A valid 18-character USCC of a company or individual business registered in ``region``.

    Registration authority 9 (market regulation), category 1 (enterprise) or 2 (individual
    business), a district of the region, an organisation code, and the GB 32100 check character.
    """
    category = "1" if rng.random() < 0.9 else "2"
    first17 = "9" + category + rng.choice(region.districts) + _org_code(rng)
    assert all(char in USCC_ALPHABET for char in first17)
    return first17 + uscc_check_char(first17)


def company_name(rng: random.Random, region: Region) -> str:
    """A plausible company name, e.g. 北京华信科技有限公司."""
    return f"{region.city}{rng.choice(_BRANDS)}{rng.choice(_TRADES)}有限公司"


def person_name(rng: random.Random) -> str:
    """A plausible individual buyer name."""
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.randint(1, 2)))


def invoice_number(year: int, region: Region, channel: int, serial: int) -> str:
    """A 20-digit 数电 number: year (2), province (2), issuing channel (1), sequence (15)."""
    if not 0 <= serial < 10**15:
        raise ValueError("serial must fit in 15 digits")
    return f"{year % 100:02d}{region.province}{channel % 10}{serial:015d}"
