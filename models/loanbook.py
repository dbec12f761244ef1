r"""Synthetic loan book for demos and tests — **not real default data**.

:func:`synthetic_loan_book` draws loans from a documented data-generating process so that the
scorecard can be exercised and checked (its estimates must recover the true coefficients
below). Every book it returns is labelled: a ``synthetic`` column that is True on every row,
and ``book.attrs["synthetic"] = True`` (carried into the model card's ``training_data``). Do
not read anything about real project-finance defaults into it; for a real scorecard, load the
bank's own book (schema in :mod:`models.scorecard`) and validate it with
:func:`models.scorecard.validate_loan_book`.

Data-generating process (one loan; all draws independent across loans)
----------------------------------------------------------------------

=========================  =================================================================
column                     draw
=========================  =================================================================
``trailing_wind_mean_ms``  :math:`U \sim N(7.0, 0.8^2)`, clipped to [4, 11] m s-1
``wind_iav``               :math:`\exp(N(\ln 0.06, 0.3^2))`, clipped to [0.01, 0.25]
``sunshine_hours``         :math:`N(2600, 450^2)`, clipped to [1000, 3800] h
``leverage``               uniform on [0.60, 0.90]
``tenor_years``            integer uniform on [8, 25]
``dscr_p90``               :math:`\exp(\ln 1.25 + 0.05 (U - 7) - 0.6 (\mathrm{lev} - 0.75)
                           + N(0, 0.08^2))` (windier sites and less debt: higher DSCR)
``default``                Bernoulli(:math:`\mathrm{logistic}(\eta)`), below
=========================  =================================================================

with the linear predictor on the standardised features :math:`z_j` of
:data:`models.scorecard.DEFAULT_FEATURES` and the *true* coefficients :data:`TRUE_COEFFICIENTS`:

.. math:: \eta = -1.75 - 0.6\,z_{wind} + 0.35\,z_{iav} - 0.15\,z_{sun}
          - 0.8\,z_{dscr} + 0.3\,z_{lev} + 0.25\,z_{tenor}

(:math:`z_{wind} = U - 7`, :math:`z_{iav} = (\mathrm{IAV} - 0.06)/0.02`,
:math:`z_{sun} = (S - 2500)/500`, :math:`z_{dscr} = \ln(\mathrm{DSCR}) / 0.1`,
:math:`z_{lev} = (\mathrm{lev} - 0.75)/0.05`, :math:`z_{tenor} = (T - 15)/5`.) The lifetime
default rate comes out near 7 % (6.8 % over 200 000 draws), of the order of the 10-year
cumulative default rate of project-finance bank loans (about 6.7 %; Moody's Investors Service,
*Default and recovery rates for project finance bank loans, 1983-2015*, 2017).

Other columns: ``loan_id`` (``SYN-000001`` …), ``origination_year`` (uniform 2005-2020),
``technology`` (``wind``), ``synthetic`` (True).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from models.errors import ModelInputError
from models.registry import ModelCard, utc_now
from models.scorecard import DEFAULT_FEATURES, design_matrix, train_scorecard

#: True logit coefficients of the data-generating process, in model order.
TRUE_COEFFICIENTS: MappingProxyType[str, float] = MappingProxyType(
    {
        "const": -1.75,
        "trailing_wind_mean_ms": -0.6,
        "wind_iav": 0.35,
        "sunshine_hours": -0.15,
        "dscr_p90": -0.8,
        "leverage": 0.3,
        "tenor_years": 0.25,
    }
)

#: Decimal places at which the synthetic book records each float column (0.01 m/s, 0.01 % of
#: IAV, 0.1 h, 0.001 of DSCR, 0.01 % of leverage).
RECORDED_DECIMALS: MappingProxyType[str, int] = MappingProxyType(
    {
        "trailing_wind_mean_ms": 2,
        "wind_iav": 4,
        "sunshine_hours": 1,
        "dscr_p90": 3,
        "leverage": 4,
    }
)


def synthetic_loan_book(n: int = 5000, seed: int = 0) -> pd.DataFrame:
    """Draw a synthetic loan book (clearly labelled as such).

    Parameters
    ----------
    n : int
        Number of loans.
    seed : int
        Seed of the :class:`numpy.random.Generator`; the same seed gives the same book.

    Returns
    -------
    pandas.DataFrame
        Columns of the loan-book schema plus ``origination_year``, ``technology`` and
        ``synthetic``; ``attrs["synthetic"] = True`` and ``attrs["generator"]`` describes the
        process.
    """
    if n < 1:
        raise ModelInputError(f"n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    wind = np.clip(rng.normal(7.0, 0.8, n), 4.0, 11.0)
    iav = np.clip(np.exp(rng.normal(np.log(0.06), 0.3, n)), 0.01, 0.25)
    sun = np.clip(rng.normal(2600.0, 450.0, n), 1000.0, 3800.0)
    lev = rng.uniform(0.60, 0.90, n)
    tenor = rng.integers(8, 26, n).astype(np.float64)
    dscr = np.exp(np.log(1.25) + 0.05 * (wind - 7.0) - 0.6 * (lev - 0.75) + rng.normal(0, 0.08, n))
    # Recorded at the precision of a loan file. This also makes the book the same bit for bit
    # on every machine: numpy's vectorised exp/log differ in the last bit between CPUs (SIMD
    # paths), and the model card pins the sha256 of the training data.
    book = pd.DataFrame(
        {
            "loan_id": [f"SYN-{i:06d}" for i in range(1, n + 1)],
            "trailing_wind_mean_ms": np.round(wind, RECORDED_DECIMALS["trailing_wind_mean_ms"]),
            "wind_iav": np.round(iav, RECORDED_DECIMALS["wind_iav"]),
            "sunshine_hours": np.round(sun, RECORDED_DECIMALS["sunshine_hours"]),
            "dscr_p90": np.round(dscr, RECORDED_DECIMALS["dscr_p90"]),
            "leverage": np.round(lev, RECORDED_DECIMALS["leverage"]),
            "tenor_years": tenor,
        }
    )
    X = design_matrix(DEFAULT_FEATURES, book)
    beta = np.asarray(
        [TRUE_COEFFICIENTS[k] for k in ("const", *(f.name for f in DEFAULT_FEATURES))]
    )
    p = 1.0 / (1.0 + np.exp(-(X @ beta)))
    book["default"] = (rng.uniform(size=n) < p).astype(np.int64)
    book["origination_year"] = rng.integers(2005, 2021, n)
    book["technology"] = "wind"
    book["synthetic"] = True
    book.attrs["synthetic"] = True
    book.attrs["generator"] = f"models.loanbook.synthetic_loan_book(n={n}, seed={seed})"
    return book


#: Size and seeds of the synthetic book behind the shipped default scorecard.
DEFAULT_BOOK_SIZE = 5000
DEFAULT_BOOK_SEED = 0
DEFAULT_SPLIT_SEED = 0
#: File of the shipped default scorecard inside the ``models`` package.
DEFAULT_CARD_FILE = "model_cards/scorecard-v0.json"


def default_scorecard_card(created_at: str, author: str = "climate-loan-risk") -> ModelCard:
    """Train the shipped default scorecard (version 0, production) on the synthetic book.

    The card in ``models/model_cards/scorecard-v0.json`` was written by
    ``python -m models.loanbook``; a test retrains it and compares the coefficients. It is a
    demonstration model fitted to *synthetic* data (``training_data.synthetic`` is true) and
    is used only while the registry holds no production scorecard of the bank's own.

    Parameters
    ----------
    created_at : str
        ISO 8601 UTC time to stamp on the card.
    author : str
        Author field.
    """
    book = synthetic_loan_book(DEFAULT_BOOK_SIZE, DEFAULT_BOOK_SEED)
    result = train_scorecard(book, DEFAULT_FEATURES, test_fraction=0.3, seed=DEFAULT_SPLIT_SEED)
    card = result.to_card(
        author=author,
        description=(
            "Default PD scorecard trained on the SYNTHETIC loan book "
            f"synthetic_loan_book(n={DEFAULT_BOOK_SIZE}, seed={DEFAULT_BOOK_SEED}) for demos; "
            "not real default data. Train and promote a scorecard on your own loan book."
        ),
        created_at=created_at,
    )
    shipped: ModelCard = replace(card, version=0).with_status(
        "production", by=author, note="shipped default (synthetic data)", at=created_at
    )
    return shipped


def _write_default_card() -> None:  # pragma: no cover - run by hand when the DGP changes
    path = Path(__file__).resolve().parent / DEFAULT_CARD_FILE
    path.parent.mkdir(exist_ok=True)
    path.write_text(default_scorecard_card(utc_now()).to_json(), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":  # pragma: no cover
    _write_default_card()
