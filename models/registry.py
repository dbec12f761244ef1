"""Model registry: versioned JSON model cards, never pickles.

Every trained statistical model (a PD scorecard, a long-term correction) is saved as a *model
card*: one JSON file holding everything needed to use, audit and reproduce it — parameters,
covariance, feature definitions and transforms, the sha256 and size of the training data,
validation metrics, library versions, creation time, author, status and status history — and a
sha256 of the card itself. Loading recomputes the hash and refuses a card that does not match
(:class:`RegistryError`), so a hand-edited or corrupted card is never used. Cards are plain
JSON: nothing is unpickled, so loading a card cannot run code.

Card hash
---------
``sha256`` is the hex SHA-256 of the card's *canonical JSON without the ``sha256`` field*:
``json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
allow_nan=False)`` encoded as UTF-8. Python writes floats with the shortest repr that reads
back to the same double, so a card's numbers survive the round trip exactly.

Status
------
A card is ``candidate`` when saved, then ``production`` or ``retired``. There is at most one
production card per kind: :meth:`Registry.promote` retires the previous one. Each change is
appended to the card's ``history`` (status, time, by, note) and the card hash is recomputed.
Promotion writes the new production card before retiring the old one; should a process die
in between, :meth:`Registry.production` takes the most recently promoted card and the next
promotion tidies up.

Where cards live
----------------
A registry is one folder of ``<kind>-v<version>.json`` files. :func:`models_dir` picks it:
``$CLIMATE_LOAN_MODELS_DIR``; else ``$CLIMATE_LOAN_INSTANCE_PATH/models``; else
``instance/models`` beside the installed packages (Flask's default instance folder for a
source checkout). The package ships default cards in ``models/model_cards/`` with version 0
(id ``scorecard-v0``: a PD scorecard trained on the *synthetic* loan book of
:mod:`models.loanbook`, for demos only). :meth:`Registry.production` returns a shipped card
only when the folder has no production card of that kind; training and promoting a scorecard
on the bank's own book replaces it.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import hashlib
import json
import math
import os
import platform
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache, cached_property
from importlib import metadata, resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from climate_data.version import code_version
from models.errors import ModelInputError

Kind = Literal["longterm", "scorecard"]
Status = Literal["candidate", "production", "retired"]

#: Kinds of model a card may hold.
KINDS: tuple[str, ...] = ("longterm", "scorecard")
#: Statuses a card may have.
STATUSES: tuple[str, ...] = ("candidate", "production", "retired")
#: Version of the card layout written by this module.
CARD_FORMAT = 1
#: Environment variable naming the registry folder.
MODELS_DIR_ENV = "CLIMATE_LOAN_MODELS_DIR"
#: Environment variable naming the service's instance folder (registry in ``models/`` there).
INSTANCE_PATH_ENV = "CLIMATE_LOAN_INSTANCE_PATH"

_ID_RE = re.compile(r"(longterm|scorecard)-v([0-9]+)")
_REQUIRED = (
    "card_format",
    "kind",
    "version",
    "status",
    "created_at",
    "author",
    "description",
    "parameters",
    "covariance",
    "features",
    "training_data",
    "metrics",
    "software",
    "history",
    "sha256",
)


class RegistryError(ModelInputError):
    """A model card is missing, malformed, tampered with, or a status change is not allowed."""


def models_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Return the registry folder from the environment, or the default.

    Parameters
    ----------
    environ : mapping, optional
        Environment to read; ``os.environ`` when omitted.

    Returns
    -------
    Path
        ``$CLIMATE_LOAN_MODELS_DIR``, else ``$CLIMATE_LOAN_INSTANCE_PATH/models``, else
        ``instance/models`` beside the ``models`` package. The folder need not exist.
    """
    env = os.environ if environ is None else environ
    if env.get(MODELS_DIR_ENV):
        return Path(env[MODELS_DIR_ENV])
    if env.get(INSTANCE_PATH_ENV):
        return Path(env[INSTANCE_PATH_ENV]) / "models"
    return Path(__file__).resolve().parent.parent / "instance" / "models"


#: The scientific stack whose versions every model card and assessment records: the libraries
#: whose numerics make the figures.
SCIENTIFIC_STACK: tuple[str, ...] = ("numpy", "scipy", "statsmodels", "pandas", "xarray", "pvlib")


def software_versions() -> dict[str, str]:
    """Return the versions of Python, this package and :data:`SCIENTIFIC_STACK`.

    The one list recorded in model cards (``software``) and assessments
    (``provenance.software``). A library that is not installed is recorded as ``"absent"``.
    """
    return dict(_software_versions())


@cache
def _software_versions() -> dict[str, str]:
    """The versions of :func:`software_versions`, looked up once per process."""
    versions = {"python": platform.python_version(), "climate-loan-risk": code_version()}
    for name in SCIENTIFIC_STACK:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover - every one is a dependency
            versions[name] = "absent"
    return dict(versions)


def json_safe(obj: Any, digits: int | None = None) -> Any:
    """Convert numpy scalars and arrays to plain Python, and NaN/inf to None (JSON has neither).

    The one JSON-safe conversion of the models (model cards, assessments).

    Parameters
    ----------
    obj : any
        Nested dicts, lists, tuples, numpy arrays and scalars.
    digits : int, optional
        Round every float to this many decimals (as stored in an assessment); not rounded when
        omitted.

    Returns
    -------
    any
        The same structure with only dict, list, str, int, float, bool and None.
    """
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v, digits) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return [json_safe(v, digits) for v in obj.tolist()]
    if isinstance(obj, list | tuple):
        return [json_safe(v, digits) for v in obj]
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer | int):
        return int(obj)
    if isinstance(obj, np.floating | float):
        v = float(obj)
        if not math.isfinite(v):
            return None
        return v if digits is None else round(v, digits)
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a model card")


def canonical_json(obj: Any) -> bytes:
    """Canonical UTF-8 JSON of ``obj`` (sorted keys, no spaces, no NaN)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def utc_now() -> str:
    """Return the current UTC time as ISO 8601 with seconds, e.g. ``2026-01-31T12:00:00Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ModelCard:
    """One version of one statistical model, as stored in the registry.

    Attributes
    ----------
    kind : {"longterm", "scorecard"}
        What the model is.
    version : int or None
        Version within the kind, assigned by :meth:`Registry.save` (None before); shipped
        default cards have version 0.
    status : {"candidate", "production", "retired"}
    created_at : str
        ISO 8601 UTC time of training.
    author : str
        Who trained it.
    description : str
        Free text: data, purpose.
    parameters : dict
        Model parameters (for a scorecard: link, coefficient names and values, grade bands).
    covariance : dict or None
        ``{"names": [...], "matrix": [[...]]}`` of the parameter estimates.
    features : list of dict
        Feature definitions and transforms, in model order.
    training_data : dict
        ``sha256``, ``n_rows``, ``size_bytes`` and ``synthetic`` of the training data.
    metrics : dict
        Fit and validation figures.
    software : dict
        Library versions at training time (:func:`software_versions`).
    history : list of dict
        Status changes: ``{"status", "at", "by", "note"}``.

    Notes
    -----
    The nested values are deep-copied and checked to be JSON-serialisable (no NaN) on
    construction; treat them as read-only.
    """

    kind: str
    version: int | None
    status: str
    created_at: str
    author: str
    description: str
    parameters: dict[str, Any]
    covariance: dict[str, Any] | None
    features: list[dict[str, Any]]
    training_data: dict[str, Any]
    metrics: dict[str, Any]
    software: dict[str, str] = field(default_factory=software_versions)
    history: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Check kind, status and version; store JSON-clean deep copies of nested values."""
        if self.kind not in KINDS:
            raise RegistryError(f"unknown model kind {self.kind!r}; expected one of {KINDS}")
        if self.status not in STATUSES:
            raise RegistryError(f"unknown status {self.status!r}; expected one of {STATUSES}")
        if self.version is not None and (
            isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 0
        ):
            raise RegistryError(f"version must be a non-negative integer, got {self.version!r}")
        for name in ("parameters", "covariance", "features", "training_data", "metrics"):
            value = getattr(self, name)
            try:
                clean = json.loads(canonical_json(json_safe(value)))
            except (TypeError, ValueError) as exc:
                raise RegistryError(f"card field {name!r} is not JSON: {exc}") from None
            object.__setattr__(self, name, clean)
        object.__setattr__(self, "software", dict(self.software))
        object.__setattr__(self, "history", copy.deepcopy(list(self.history)))

    @property
    def id(self) -> str:
        """``<kind>-v<version>``, e.g. ``scorecard-v3`` (``<kind>-unsaved`` before saving)."""
        return (
            f"{self.kind}-v{self.version}" if self.version is not None else f"{self.kind}-unsaved"
        )

    def body(self) -> dict[str, Any]:
        """Return the card as a JSON-ready dict without ``sha256`` (what the hash covers)."""
        return {
            "card_format": CARD_FORMAT,
            "kind": self.kind,
            "version": self.version,
            "status": self.status,
            "created_at": self.created_at,
            "author": self.author,
            "description": self.description,
            "parameters": copy.deepcopy(self.parameters),
            "covariance": copy.deepcopy(self.covariance),
            "features": copy.deepcopy(self.features),
            "training_data": copy.deepcopy(self.training_data),
            "metrics": copy.deepcopy(self.metrics),
            "software": dict(self.software),
            "history": copy.deepcopy(self.history),
        }

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of the canonical JSON of :meth:`body`.

        Computed on first use and kept: the card is frozen and its nested values are its own
        copies (read-only by contract), so the hash cannot go stale; a changed card
        (:meth:`with_status`, ``dataclasses.replace``) is a new object with its own hash.
        """
        return hashlib.sha256(canonical_json(self.body())).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """Return the card with its ``sha256``, as written to disk."""
        doc = self.body()
        doc["sha256"] = self.sha256
        return doc

    def to_json(self) -> str:
        """Readable JSON of :meth:`to_dict` (indented, sorted keys, trailing newline)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def summary(self) -> dict[str, Any]:
        """Short description for listings and assessment provenance."""
        return {
            "id": self.id,
            "kind": self.kind,
            "version": self.version,
            "status": self.status,
            "created_at": self.created_at,
            "author": self.author,
            "sha256": self.sha256,
        }

    def with_status(
        self, status: str, *, by: str, note: str = "", at: str | None = None
    ) -> ModelCard:
        """Return a copy with a new status and the change appended to ``history``."""
        entry = {"status": status, "at": at or utc_now(), "by": by, "note": note}
        return replace(self, status=status, history=[*self.history, entry])

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, source: str = "card") -> ModelCard:
        """Read a card and verify its hash.

        Parameters
        ----------
        doc : mapping
            Parsed card JSON.
        source : str
            Where it came from, for error messages (e.g. the file path).

        Raises
        ------
        RegistryError
            Missing fields, unknown format, or a hash that does not match the content.
        """
        if not isinstance(doc, Mapping):
            raise RegistryError(f"{source}: a model card must be a JSON object")
        missing = [k for k in _REQUIRED if k not in doc]
        if missing:
            raise RegistryError(f"{source}: not a model card, missing {', '.join(missing)}")
        if doc["card_format"] != CARD_FORMAT:
            raise RegistryError(
                f"{source}: card format {doc['card_format']!r} is not supported "
                f"(this version reads format {CARD_FORMAT})"
            )
        body = {k: v for k, v in doc.items() if k != "sha256"}
        actual = hashlib.sha256(canonical_json(body)).hexdigest()
        if actual != doc["sha256"]:
            raise RegistryError(
                f"{source}: sha256 does not match the card's content (stored "
                f"{str(doc['sha256'])[:12]}…, computed {actual[:12]}…); the card was changed "
                "after it was written and will not be used"
            )
        extra = sorted(set(doc) - set(_REQUIRED))
        if extra:
            raise RegistryError(f"{source}: unknown card fields {', '.join(extra)}")
        card = cls(
            kind=doc["kind"],
            version=doc["version"],
            status=doc["status"],
            created_at=doc["created_at"],
            author=doc["author"],
            description=doc["description"],
            parameters=doc["parameters"],
            covariance=doc["covariance"],
            features=doc["features"],
            training_data=doc["training_data"],
            metrics=doc["metrics"],
            software=doc["software"],
            history=doc["history"],
        )
        if card.sha256 != actual:  # pragma: no cover - JSON-clean input round-trips exactly
            raise RegistryError(f"{source}: card does not survive a round trip")
        return card

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str = "card") -> ModelCard:
        """Parse JSON text and :meth:`from_dict` it."""
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RegistryError(f"{source}: not valid JSON ({exc})") from None
        return cls.from_dict(doc, source=source)


def parse_id(card_id: str) -> tuple[str, int]:
    """Split ``scorecard-v3`` into ``("scorecard", 3)``; anything else is a RegistryError."""
    m = _ID_RE.fullmatch(card_id.strip())
    if m is None:
        raise RegistryError(
            f"{card_id!r} is not a model id; ids look like 'scorecard-v3' or 'longterm-v1'"
        )
    return m.group(1), int(m.group(2))


def shipped_cards() -> list[ModelCard]:
    """Load the default cards shipped in ``models/model_cards/`` (verified like any other)."""
    out = []
    folder = resources.files("models") / "model_cards"
    if not folder.is_dir():
        return []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json"):
            card = ModelCard.from_json(entry.read_bytes(), source=f"shipped {entry.name}")
            out.append(card)
    return out


class Registry:
    """A folder of model cards.

    Parameters
    ----------
    path : str or Path, optional
        The folder; :func:`models_dir` when omitted. Created on the first save.
    use_shipped : bool
        Let :meth:`production`, :meth:`show` and :meth:`list` fall back to the shipped default
        cards (version 0) when the folder has none of that kind in production.
    """

    def __init__(self, path: str | Path | None = None, *, use_shipped: bool = True) -> None:
        self.path = Path(path) if path is not None else models_dir()
        self.use_shipped = use_shipped

    def __repr__(self) -> str:
        return f"Registry({str(self.path)!r})"

    # --- reading --------------------------------------------------------------------------

    def _file(self, kind: str, version: int) -> Path:
        return self.path / f"{kind}-v{version}.json"

    def _load(self, file: Path) -> ModelCard:
        try:
            text = file.read_bytes()
        except FileNotFoundError:
            raise RegistryError(f"no model card {file.stem} in {self.path}") from None
        card = ModelCard.from_json(text, source=str(file))
        if card.id != file.stem:
            raise RegistryError(
                f"{file}: the card inside is {card.id}; a card file must not be renamed"
            )
        return card

    def _stored(self) -> list[ModelCard]:
        if not self.path.is_dir():
            return []
        files = [p for p in self.path.glob("*-v*.json") if _ID_RE.fullmatch(p.stem)]
        cards = [self._load(p) for p in files]
        return sorted(cards, key=lambda c: (c.kind, c.version or 0))

    def list(self, kind: str | None = None, status: str | None = None) -> list[ModelCard]:
        """Cards in the folder (and the shipped defaults), by kind then version.

        Parameters
        ----------
        kind, status : str, optional
            Keep only cards of this kind / status.

        Raises
        ------
        RegistryError
            A card in the folder fails its hash check (named in the message).
        """
        if kind is not None and kind not in KINDS:
            raise RegistryError(f"unknown model kind {kind!r}; expected one of {KINDS}")
        if status is not None and status not in STATUSES:
            raise RegistryError(f"unknown status {status!r}; expected one of {STATUSES}")
        cards = self._stored()
        if self.use_shipped:
            cards = sorted([*shipped_cards(), *cards], key=lambda c: (c.kind, c.version or 0))
        return [
            c
            for c in cards
            if (kind is None or c.kind == kind) and (status is None or c.status == status)
        ]

    def table(
        self, kind: str | None = None, status: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Rows for listings: :meth:`ModelCard.summary` plus ``source`` and ``in_use``.

        ``source`` is ``registry`` or ``shipped``; ``in_use`` is True for the card
        :meth:`production` returns for its kind.
        """
        cards = self.list(kind, status)
        in_use = {k: self.production(k) for k in {c.kind for c in cards}}
        rows = []
        for c in cards:
            row = c.summary()
            row["source"] = "shipped" if c.version == 0 else "registry"
            prod = in_use.get(c.kind)
            row["in_use"] = prod is not None and prod.id == c.id and prod.sha256 == c.sha256
            rows.append(row)
        return rows

    def show(self, card_id: str) -> ModelCard:
        """Load one card by id (``scorecard-v3``), verifying its hash."""
        kind, version = parse_id(card_id)
        if version == 0 and self.use_shipped:
            for card in shipped_cards():
                if card.kind == kind and card.version == 0:
                    return card
        return self._load(self._file(kind, version))

    def production(self, kind: str) -> ModelCard | None:
        """Return the production card of ``kind``: the folder's, else the shipped one, else None.

        With more than one production card in the folder (a promotion interrupted between its
        two writes), the most recently promoted one is returned.
        """
        if kind not in KINDS:
            raise RegistryError(f"unknown model kind {kind!r}; expected one of {KINDS}")
        prod = [c for c in self._stored() if c.kind == kind and c.status == "production"]
        if prod:
            return max(prod, key=_promoted_at)
        if self.use_shipped:
            for card in shipped_cards():
                if card.kind == kind and card.status == "production":
                    return card
        return None

    # --- writing --------------------------------------------------------------------------

    def save(self, card: ModelCard) -> ModelCard:
        """Store a new card as a candidate with the next version of its kind.

        Parameters
        ----------
        card : ModelCard
            Unsaved card (``version`` None, status ``candidate``).

        Returns
        -------
        ModelCard
            The stored card, with its version and a ``candidate`` history entry.
        """
        if card.version is not None:
            raise RegistryError(
                f"card already has version {card.version}; a saved card is never overwritten"
            )
        if card.status != "candidate":
            raise RegistryError("a new card must be a candidate; promote it after saving")
        self.path.mkdir(parents=True, exist_ok=True)
        with self._lock():
            versions = [c.version or 0 for c in self._stored() if c.kind == card.kind]
            version = max(versions, default=0) + 1
            stored = replace(card, version=version).with_status(
                "candidate", by=card.author, note="saved", at=card.created_at
            )
            self._write(stored, new=True)
        return stored

    def promote(self, card_id: str, *, by: str, note: str = "") -> ModelCard:
        """Make a card the production model of its kind; retire the previous one.

        Returns
        -------
        ModelCard
            The promoted card.
        """
        kind, version = parse_id(card_id)
        if version == 0:
            raise RegistryError(
                f"{card_id} is a shipped default; it is used only while no card of its kind "
                "is in production"
            )
        with self._lock():
            card = self._load(self._file(kind, version))
            if card.status == "production":
                raise RegistryError(f"{card_id} is already in production")
            if card.status == "retired":
                raise RegistryError(f"{card_id} is retired; train and save a new version instead")
            # Read (and verify) every card first: a bad card stops the promotion before any
            # write, so the folder is never left half-changed by it.
            previous = [
                c
                for c in self._stored()
                if c.kind == kind and c.status == "production" and c.id != card_id
            ]
            at = utc_now()
            promoted = card.with_status("production", by=by, note=note, at=at)
            self._write(promoted)
            for old in previous:
                self._write(old.with_status("retired", by=by, note=f"replaced by {card_id}", at=at))
        return promoted

    def retire(self, card_id: str, *, by: str, note: str = "") -> ModelCard:
        """Retire a candidate or production card (a retired production card leaves none)."""
        kind, version = parse_id(card_id)
        if version == 0:
            raise RegistryError(f"{card_id} is a shipped default and cannot be retired")
        with self._lock():
            card = self._load(self._file(kind, version))
            if card.status == "retired":
                raise RegistryError(f"{card_id} is already retired")
            retired = card.with_status("retired", by=by, note=note)
            self._write(retired)
        return retired

    def _write(self, card: ModelCard, *, new: bool = False) -> None:
        """Write atomically: a temporary file in the folder, then rename over the target."""
        if card.version is None:
            raise RegistryError(f"card {card.kind} has no version; only a numbered card is written")
        target = self._file(card.kind, card.version)
        if new and target.exists():
            raise RegistryError(f"{target} already exists")
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f".{target.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(card.to_json())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Exclusive lock on the folder for one change (POSIX ``flock``; no-op elsewhere)."""
        self.path.mkdir(parents=True, exist_ok=True)
        lock_file = self.path / ".registry.lock"
        with open(lock_file, "a+b") as fh:
            try:
                import fcntl
            except ImportError:  # pragma: no cover - Windows
                yield
                return
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _promoted_at(card: ModelCard) -> tuple[str, int]:
    times = [str(h.get("at", "")) for h in card.history if h.get("status") == "production"]
    return (max(times, default=""), card.version or 0)


__all__ = [
    "CARD_FORMAT",
    "KINDS",
    "SCIENTIFIC_STACK",
    "STATUSES",
    "Kind",
    "ModelCard",
    "Registry",
    "RegistryError",
    "Status",
    "canonical_json",
    "json_safe",
    "models_dir",
    "parse_id",
    "shipped_cards",
    "software_versions",
    "utc_now",
]
