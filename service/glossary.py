"""The officers' glossary: the terms of the result page and the credit memo, in both languages.

Each entry has an anchor id (``/app/glossary#dscr``), the abbreviation, its full name and a
short explanation in English and Chinese, written for a loan officer rather than a modeller.
Like the policies' ``name_en``/``name_zh`` and the reasons' ``message``/``message_zh``, the text
is kept here in both languages (not in the gettext catalogues), so that one place holds each
definition and the page, the memo and the PDF cannot disagree.

:data:`METRIC_TERMS` maps the metrics of the policy rules (``repayment.dscr_p90_min``, ...) to
the entry that explains them; :func:`term_for` looks one up.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GLOSSARY", "METRIC_TERMS", "Term", "entries", "term_for"]


@dataclass(frozen=True)
class Term:
    """One glossary entry; the ``*_en`` and ``*_zh`` texts say the same thing."""

    id: str
    abbr: str
    name_en: str
    name_zh: str
    text_en: str
    text_zh: str

    def name(self, lang: str) -> str:
        """Full name in ``lang`` (``"zh"`` or ``"en"``)."""
        return self.name_zh if lang == "zh" else self.name_en

    def text(self, lang: str) -> str:
        """Explanation in ``lang``."""
        return self.text_zh if lang == "zh" else self.text_en


GLOSSARY: tuple[Term, ...] = (
    Term(
        "iav",
        "IAV",
        "Inter-annual variability",
        "年际变率",
        "How much one year's mean wind speed (or sunshine) differs from another's at the site: "
        "the standard deviation of the annual means divided by their average, shown as a "
        "percentage. 4 % means a typical year lies about 4 % above or below the long-term "
        "mean. The higher it is, the less a single good or bad year says and the wider the "
        "gap between P50 and P90 energy.",
        "衡量场址各年平均风速（或日照）彼此相差多少：年平均值的标准差除以其平均值，以百分比表示。"
        "4 % 表示典型年份比长期平均高或低约 4 %。该值越高，单独一个好年或坏年越不具代表性，"
        "P50 与 P90 发电量之间的差距也越大。",
    ),
    Term(
        "p50",
        "P50",
        "P50 energy",
        "P50 发电量",
        "The annual energy the project is expected to exceed in half of all years: the central "
        "estimate. It is the basis of the base-case cash flow.",
        "项目在一半年份中预计能够超过的年发电量，即中间估计值，是基准情形现金流的依据。",
    ),
    Term(
        "p90",
        "P90",
        "P90 energy",
        "P90 发电量",
        "The annual energy exceeded with 90 % probability. The basis matters: the 1-year P90 is "
        "the level a single year beats nine times in ten; the 10-year P90 is the level the "
        "average of ten years beats nine times in ten. Year-to-year swings partly cancel over "
        "ten years, so the 10-year P90 is higher and closer to P50. Lenders usually size the "
        "loan's coverage on the 10-year P90 and test a single bad year with the 1-year P90 or "
        "P99.",
        "以 90 % 的概率被超过的年发电量。口径很重要：1 年 P90 是单独一年十次中有九次能超过的水平；"
        "10 年 P90 是十年平均值十次中有九次能超过的水平。逐年波动在十年内会部分相互抵消，"
        "因此 10 年 P90 更高、更接近 P50。贷款方通常以 10 年 P90 测算覆盖率，"
        "并用 1 年 P90 或 P99 检验单个不利年份。",
    ),
    Term(
        "p99",
        "P99",
        "P99 energy",
        "P99 发电量",
        "The annual energy exceeded with 99 % probability in a single year: a severe but "
        "plausible bad year, used as a stress case.",
        "单一年份中以 99 % 的概率被超过的年发电量：一个严重但可能出现的不利年份，用作压力情形。",
    ),
    Term(
        "dscr",
        "DSCR",
        "Debt service coverage ratio",
        "偿债覆盖率",
        "Cash available for debt service in a loan year divided by the interest and principal "
        "due that year. 1.30× means the project earns 30 % more cash than it must pay the bank; "
        "below 1.00× it cannot pay from its own cash. The page shows the lowest year of the "
        "tenor for each energy case (P50, 10-year P90, 1-year P99).",
        "某一贷款年度可用于偿债的现金除以当年应付的利息和本金。1.30× 表示项目产生的现金比应付"
        "银行的款项多 30 %；低于 1.00× 时项目无法以自身现金还款。页面显示各发电量情形"
        "（P50、10 年 P90、1 年 P99）下贷款期内最低的一年。",
    ),
    Term(
        "llcr",
        "LLCR",
        "Loan life coverage ratio",
        "贷款期覆盖率",
        "The present value of the cash available for debt service over the whole tenor, "
        "discounted at the loan's interest rate, divided by the loan amount. It looks at the "
        "loan as a whole, where the DSCR looks at the worst single year.",
        "整个贷款期内可用于偿债的现金按贷款利率折现后的现值，除以贷款金额。"
        "它从整笔贷款的角度衡量，而偿债覆盖率关注最差的单个年份。",
    ),
    Term(
        "dsra",
        "DSRA",
        "Debt service reserve account",
        "偿债准备金账户",
        "Cash set aside at financial close (here six months of the first year's debt service) "
        "that pays the bank when a poor year leaves a gap; surplus cash in later years refills "
        "it. The Monte Carlo model counts a default only when a gap is larger than what is "
        "left in this reserve.",
        "在融资关闭时预留的现金（此处为首年六个月的还本付息额），当不利年份出现缺口时用于向银行"
        "还款，以后年份的盈余现金再将其补足。蒙特卡洛模型仅在缺口大于该准备金余额时才计为违约。",
    ),
    Term(
        "pd",
        "PD",
        "Probability of default",
        "违约概率",
        "The chance that the project fails to pay its debt service. The Monte Carlo PD replays "
        "thousands of possible sequences of the site's own climate years through the cash flow "
        "and the reserve; the scorecard PD comes from a statistical model fitted to the bank's "
        "loan book. The lending product's rules say which one the decision uses.",
        "项目无法按期还本付息的可能性。蒙特卡洛违约概率将场址自身气候年份的数千种可能序列代入"
        "现金流和准备金进行模拟；评分卡违约概率来自基于银行贷款组合拟合的统计模型。"
        "贷款产品的规则决定决策使用哪一个。",
    ),
    Term(
        "lgd",
        "LGD",
        "Loss given default",
        "违约损失率",
        "The share of the exposure the bank loses if the borrower defaults, after recoveries.",
        "借款人违约时，银行在回收之后损失的敞口比例。",
    ),
    Term(
        "el",
        "EL",
        "Expected loss",
        "预期损失",
        "PD × LGD × exposure: the loss the bank should expect on average, in money. The page "
        "shows the one-year figure.",
        "违约概率 × 违约损失率 × 敞口：银行平均应预期的损失金额。页面显示一年期数值。",
    ),
    Term(
        "grade",
        "",
        "Grade",
        "等级",
        "The supervisory slotting grade (Strong, Good, Satisfactory, Weak) that the annual PD "
        "falls into. Each grade has an upper PD bound and a risk weight for the bank's capital.",
        "年度违约概率所落入的监管分类等级（强、良好、满意、弱）。每个等级对应一个违约概率上限"
        "以及银行资本计算所用的风险权重。",
    ),
)

#: Rule and figure metrics -> glossary entry id.
METRIC_TERMS: dict[str, str] = {
    "climate.wind.iav": "iav",
    "energy.p50_mwh": "p50",
    "energy.p90_mwh": "p90",
    "energy.p90_10y_mwh": "p90",
    "energy.p99_mwh": "p99",
    "repayment.dscr_p50_min": "dscr",
    "repayment.dscr_p90_min": "dscr",
    "repayment.dscr_p99_min": "dscr",
    "repayment.dscr_p90_1y_min": "dscr",
    "repayment.dscr_p90_10y_min": "dscr",
    "repayment.dscr_p99_1y_min": "dscr",
    "repayment.llcr": "llcr",
    "repayment.pd_annual": "pd",
    "repayment.pd_tenor": "pd",
    "repayment.pd_scorecard": "pd",
    "repayment.expected_loss": "el",
    "repayment.grade": "grade",
}

_BY_ID = {t.id: t for t in GLOSSARY}


def term_for(key: str) -> Term | None:
    """The entry of a term id (``"dscr"``) or of a metric (``"repayment.llcr"``), or None."""
    return _BY_ID.get(key) or _BY_ID.get(METRIC_TERMS.get(key, ""))


def entries() -> tuple[Term, ...]:
    """Every entry, in the order of the glossary page."""
    return GLOSSARY
