# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Retrain the PD scorecard
#
# The scorecard is a logit model of lifetime default on the loan book: site climate at
# origination (trailing mean wind, IAV, sunshine hours) and finance at origination (P90 DSCR,
# leverage, tenor). This notebook loads a loan book, validates it, fits and validates a new
# scorecard on a held-out split, compares it with the production model, saves it in the model
# registry as a candidate and promotes it when it is at least as good.
#
# Every step calls `models.scorecard`, `models.loanbook` or `models.registry`; the module
# docstrings hold the schema, the equations and the references.
#
# **Parameters** (environment variables, read in the next cell):
#
# | variable | meaning | default |
# |---|---|---|
# | `NB_LOAN_BOOK_CSV` | the bank's loan book (schema below) | none: a SYNTHETIC book |
# | `CLIMATE_LOAN_MODELS_DIR` | model registry folder | the registry's default |
# | `NB_AUTHOR` | name recorded in the model card | `modeller` |
# | `NB_PROMOTE` | `1`: promote the candidate if it passes the checks; `0`: only save it | `1` |
# | `NB_SEED` | seed of the synthetic book and of the train/test split | 1 |
# | `NB_SMALL` | `1`: a 3000-loan synthetic book instead of 10 000 (CI) | `0` |

# %% tags=["parameters"]
import os

LOAN_BOOK_CSV = os.environ.get("NB_LOAN_BOOK_CSV") or None
MODELS_DIR = os.environ.get("CLIMATE_LOAN_MODELS_DIR") or None
AUTHOR = os.environ.get("NB_AUTHOR", "modeller")
PROMOTE = os.environ.get("NB_PROMOTE", "1") == "1"
SEED = int(os.environ.get("NB_SEED", "1"))
SMALL = os.environ.get("NB_SMALL", "0") == "1"

# %%
import sys

import matplotlib

if "ipykernel" not in sys.modules:  # run as a plain script: draw off-screen
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from models.loanbook import TRUE_COEFFICIENTS, synthetic_loan_book
from models.registry import Registry
from models.scorecard import (
    LOAN_BOOK_COLUMNS,
    TARGET_COLUMN,
    LoanBookError,
    auc_rank,
    bin_shares,
    brier_score,
    calibration_by_grade,
    grade_bands_of,
    ks_statistic,
    predict_pd,
    psi_from_shares,
    stratified_split,
    train_scorecard,
    validate_loan_book,
)

# %% [markdown]
# ## Load and validate the loan book
#
# One row per loan: `loan_id` (unique text), `default` (1 if the loan defaulted over its
# life, else 0) and the feature columns below with their allowed ranges. A missing
# column, an empty cell, a value out of range or a duplicate `loan_id` stops the notebook with
# a `LoanBookError` that names the column and the first rows: fix the file, nothing is
# dropped or filled in silently.

# %%
pd.DataFrame(
    [
        (c.name, c.units, c.description, f"{'(' if c.low_open else '['}{c.low:g}, {c.high:g}]")
        for c in LOAN_BOOK_COLUMNS
    ],
    columns=["column", "units", "meaning", "allowed"],
).set_index("column")

# %%
if LOAN_BOOK_CSV:
    raw = pd.read_csv(LOAN_BOOK_CSV)
    source = LOAN_BOOK_CSV
else:
    raw = synthetic_loan_book(n=3000 if SMALL else 10_000, seed=SEED)
    source = raw.attrs["generator"]
book = validate_loan_book(raw)  # raises LoanBookError naming the column and rows
book.attrs.update(raw.attrs)  # keep the synthetic label for the model card
synthetic = bool(book.attrs.get("synthetic", False))
if synthetic:
    display(
        Markdown(
            "> **Synthetic loan book.** Drawn by `models.loanbook.synthetic_loan_book` from a "
            "documented data-generating process; it is *not* real default data and the model "
            "card will say `training_data.synthetic = true`. Set `NB_LOAN_BOOK_CSV` to train on "
            "the bank's own book."
        )
    )
print(
    f"{source}: {len(book)} loans, {int(book[TARGET_COLUMN].sum())} defaults "
    f"({book[TARGET_COLUMN].mean():.1%})"
)
book.describe().T.round(3)

# %% [markdown]
# What a validation error looks like (a copy of the book with one column removed and one
# value out of range):

# %%
for broken in (
    book.drop(columns=["leverage"]),
    book.assign(dscr_p90=book["dscr_p90"].where(book.index != book.index[3], -1.0)),
):
    try:
        validate_loan_book(broken)
    except LoanBookError as exc:
        print("LoanBookError:", exc)

# %% [markdown]
# ## Fit and validate
#
# `train_scorecard` holds out 30 % of the loans (stratified by outcome, seeded), fits
# statsmodels' `Logit` on the rest and validates on the held-out loans: AUC (rank formula),
# Gini = 2·AUC − 1, KS, Brier score, calibration by grade with an exact binomial test, and PSI
# of the held-out scores against the training scores (< 0.1 stable, 0.1-0.25 watch, > 0.25
# shifted).

# %%
result = train_scorecard(book, test_fraction=0.3, seed=SEED)
coef = pd.DataFrame(
    {
        "coefficient": result.coefficients,
        "std error": result.std_errors,
        "95% low": result.conf_int()[:, 0],
        "95% high": result.conf_int()[:, 1],
    },
    index=list(result.names),
)
if synthetic:  # the generator's true coefficients: the intervals should cover them
    coef["true (synthetic DGP)"] = [TRUE_COEFFICIENTS[k] for k in result.names]
coef.round(3)

# %%
v = result.validation
pd.Series(
    {
        "held-out loans": v.n,
        "held-out defaults": v.n_defaults,
        "AUC": v.auc,
        "Gini": v.gini,
        "KS": v.ks,
        "Brier": v.brier,
        "PSI (held-out vs training scores)": v.psi,
        "McFadden pseudo R² (training)": result.pseudo_r2,
    }
).round(4).to_frame("candidate")

# %%
calib = pd.DataFrame([c.to_dict() for c in v.calibration]).set_index("grade")
display(calib)

# %% [markdown]
# ## Compare with the production model
#
# The registry's production scorecard (or, while the bank has promoted none, the shipped
# default `scorecard-v0`, trained on a synthetic book) is scored on the *same* held-out loans,
# so both models are judged on data neither was fitted to in this run.

# %%
registry = Registry(MODELS_DIR)
production = registry.production("scorecard")
test = stratified_split(book[TARGET_COLUMN].to_numpy(), result.test_fraction, result.seed)
held_out = book[test]
y = held_out[TARGET_COLUMN].to_numpy()
p_new = result.predict(held_out)
scores = {"candidate": p_new}
if production is not None:
    scores[f"production ({production.id})"] = predict_pd(production, held_out)
compare = pd.DataFrame(
    {
        name: {
            "AUC": auc_rank(y, p),
            "KS": ks_statistic(y, p),
            "Brier": brier_score(y, p),
            "mean PD": float(p.mean()),
            "observed default rate": float(y.mean()),
        }
        for name, p in scores.items()
    }
)
if production is not None:
    # Stability: the held-out scores of each model against the deciles of that model's own
    # training scores (the production card stores them).
    ref = production.metrics["psi_reference"]
    p_prod = scores[f"production ({production.id})"]
    compare.loc["PSI vs the model's training scores", f"production ({production.id})"] = (
        psi_from_shares(ref["expected"], bin_shares(p_prod, ref["edges"]))
    )
compare.loc["PSI vs the model's training scores", "candidate"] = v.psi
print(f"registry: {registry.path}")
compare.round(4)

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
ax = axes[0]
for name, p in scores.items():
    order = np.argsort(-p)
    tpr = np.concatenate([[0], np.cumsum(y[order] == 1) / (y == 1).sum()])
    fpr = np.concatenate([[0], np.cumsum(y[order] == 0) / (y == 0).sum()])
    ax.plot(fpr, tpr, label=f"{name}: AUC {auc_rank(y, p):.3f}")
ax.plot([0, 1], [0, 1], color="grey", ls=":")
ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, held-out loans")
ax.legend(fontsize=8)
ax = axes[1]
width = 0.8 / len(scores)
grades = list(calib.index)
xs = np.arange(len(grades))
for k, (name, p) in enumerate(scores.items()):
    bands = grade_bands_of(production) if "production" in name else result.grade_bands
    cal = pd.DataFrame([c.to_dict() for c in calibration_by_grade(y, p, bands)]).set_index("grade")
    cal = cal.reindex(grades)
    ax.bar(xs + k * width, cal["mean_pd"], width, alpha=0.5, label=f"{name}: mean PD")
    ax.scatter(
        xs + k * width,
        cal["observed_rate"],
        marker="o",
        color=f"C{k}",
        zorder=3,
        label=f"{name}: observed",
    )
ax.set_xticks(xs + width * (len(scores) - 1) / 2, grades)
ax.set(ylabel="lifetime default rate", title="Calibration by grade, held-out loans")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## Register the candidate, then promote
#
# The candidate is saved as a JSON model card (coefficients, covariance, features and
# transforms, training-data sha256, metrics, library versions, its own sha256): `Registry.save`
# gives it the next version with status `candidate`. Promotion makes it the model the service
# uses for every new assessment and retires the previous production card; both are recorded
# in the cards' history.
#
# The checks below are a starting point for the bank's own model-risk policy: the candidate
# must converge, discriminate at least as well as production on the same loans (AUC not lower
# by more than 0.01), be stable (PSI < 0.1) and show no grade whose observed default rate
# differs from its mean PD at the 1 % level.

# %%
card = result.to_card(
    author=AUTHOR,
    description=(
        f"PD scorecard retrained on {source} ({len(book)} loans"
        + ("; SYNTHETIC data, demo only" if synthetic else "")
        + ")"
    ),
)
candidate = registry.save(card)
print(
    f"saved {candidate.id} (status {candidate.status}, sha256 {candidate.sha256[:12]}) "
    f"in {registry.path}"
)

# %%
prod_name = None if production is None else f"production ({production.id})"
checks = {
    "fit converged": bool(result.converged),
    "AUC not below production - 0.01": bool(
        prod_name is None or compare.loc["AUC", "candidate"] >= compare.loc["AUC", prod_name] - 0.01
    ),
    "PSI < 0.1": bool(v.psi < 0.1),
    "no grade miscalibrated (binomial p >= 0.01)": all(
        c.p_value is None or c.p_value >= 0.01 for c in v.calibration
    ),
}
display(pd.Series(checks, name="check").to_frame())
if PROMOTE and all(checks.values()):
    promoted = registry.promote(
        candidate.id, by=AUTHOR, note="retrained in notebook 03; checks passed"
    )
    print(f"{promoted.id} is now the production scorecard")
elif PROMOTE:
    print(f"{candidate.id} stays a candidate: a check failed")
else:
    print(f"{candidate.id} saved as a candidate (NB_PROMOTE=0)")

# %%
pd.DataFrame(registry.table(kind="scorecard")).set_index("id")[
    ["status", "in_use", "source", "created_at", "author", "sha256"]
]

# %% [markdown]
# The same registry from the command line (`--models-dir` or `CLIMATE_LOAN_MODELS_DIR`):
#
# ```sh
# climate-loan models list
# climate-loan models show scorecard-v1
# climate-loan models promote scorecard-v1 --by "A. Modeller" --note "Q3 retrain"
# climate-loan models retire scorecard-v1 --note "replaced"
# ```
#
# A card whose file was edited by hand fails its sha256 check and is refused, by the
# notebook, the command line and the service alike.
