"""Portfolio runs of the API: accepted by the web workers, computed by a separate worker.

``POST /api/v1/portfolio-runs`` validates the book (:mod:`service.portfolio`), writes the run
to the audit database with its first state ``queued`` (:func:`create_run`) and pushes its id
onto a Redis list (``CLIMATE_LOAN_QUEUE_URL``, default ``redis://127.0.0.1:6379/0``). The
worker (``climate-loan portfolio worker``, :class:`Worker`) wakes on that list, or every few
seconds without it, takes the oldest open run from the **database** — the list is only a
wake-up call, so a run is never lost with a restarted server, a restarted Redis or a dropped
message — assesses every loan, stores each assessment as a normal assessment of the run's
owner linked to the run, simulates the book and appends the result.

A run's state is a log (``portfolio_run_events``, append-only): ``queued``; ``running`` (the
worker whose insert of the next event number succeeds owns the run; further ``running``
events carry the progress); ``done`` with the result, or ``failed`` with the reason. A run
whose last ``running`` event is older than :data:`STALE_S` (its worker stopped) is taken over
by the next worker; its loans are assessed again with the same seeds and assessment ids, so
the result is the same, and loans already stored are not stored twice.

Runs are scoped like assessments (:mod:`service.assessments`): the key that made a run reads
it, an admin reads every run; any other run is answered as missing.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from climate_data.errors import ClimateDataError
from models.errors import ModelInputError
from service.assessments import owner_scope
from service.errors import UsageError
from service.portfolio import (
    BookError,
    LoanBook,
    LoanOutcome,
    parse_book,
    run_portfolio,
)
from service.store import (
    ApiKeyRecord,
    AssessmentRecord,
    AuditStore,
    PortfolioRunEvent,
    PortfolioRunRecord,
    PortfolioRunTaken,
    StoreUnavailable,
    utcnow,
)

__all__ = [
    "QUEUE_ENV",
    "QUEUE_KEY",
    "RunNotFound",
    "Worker",
    "create_run",
    "draw_seed",
    "get_run",
    "notify",
    "queue_url",
]

#: Environment variable of the Redis the runs are queued on.
QUEUE_ENV = "CLIMATE_LOAN_QUEUE_URL"
DEFAULT_QUEUE_URL = "redis://127.0.0.1:6379/0"
#: Redis list of run ids waiting for a worker.
QUEUE_KEY = "climate-loan:portfolio-runs"
#: A running run without a new event for this long is taken over by another worker [s].
STALE_S = 120.0
#: Progress is appended at most this often [s].
PROGRESS_EVERY_S = 1.0
_log = logging.getLogger("climate_loan.portfolio")


class RunNotFound(LookupError):
    """No run with this id that the caller may see (missing or another key's)."""

    def __init__(self, run_id: str) -> None:
        shown = run_id[:64].encode("unicode_escape").decode("ascii")
        super().__init__(f"no portfolio run with id {shown!r}")


def queue_url() -> str:
    """The Redis URL of the queue (``$CLIMATE_LOAN_QUEUE_URL`` or the local Redis)."""
    return os.environ.get(QUEUE_ENV, "").strip() or DEFAULT_QUEUE_URL


def notify(run_id: str, url: str | None = None) -> bool:
    """Push a run id onto the queue; False (logged) when Redis cannot be reached.

    A run that could not be pushed still runs: the worker also polls the database.
    """
    import redis

    try:
        client = redis.Redis.from_url(url or queue_url(), socket_timeout=2.0)
        client.rpush(QUEUE_KEY, run_id)
        client.close()
    except redis.RedisError as exc:
        _log.warning("portfolio run %s not pushed to the queue: %s", run_id, exc)
        return False
    return True


def draw_seed() -> int:
    """A run seed from OS entropy (< 2**53, exact in JSON)."""
    return secrets.randbits(53)


def _cell(value: Any) -> Any:
    """A book cell as JSON (numbers, text, true/false or null; NaN is null)."""
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def create_run(
    store: AuditStore,
    caller: ApiKeyRecord,
    *,
    columns: list[str],
    records: list[dict[str, Any]],
    book: LoanBook,
    n_paths: int,
    seed: int,
    npl_tolerance_pct: float,
    dataset_sha256: str,
    request_id: str,
) -> PortfolioRunRecord:
    """Store a validated book as a queued run of ``caller`` and wake a worker.

    Raises
    ------
    service.store.StoreUnavailable
        The database cannot take it (nothing is queued).
    """
    rows = [{c: _cell(r.get(c)) for c in columns} for r in records]
    run = PortfolioRunRecord(
        id=uuid.uuid4().hex,
        created_at=utcnow(),
        request_id=request_id,
        api_key_id=caller.id,
        n_loans=len(book.loans),
        n_paths=n_paths,
        seed=seed,
        npl_tolerance_pct=npl_tolerance_pct,
        dataset_sha256=dataset_sha256,
        book_json=json.dumps({"columns": columns, "rows": rows}, ensure_ascii=False),
    )
    store.add_portfolio_run(run)
    notify(run.id)
    return run


def _owned_run(store: AuditStore, caller: ApiKeyRecord, run_id: str) -> PortfolioRunRecord:
    """The run ``run_id`` if the caller may see it (its owner, or an admin); RunNotFound."""
    run = store.get_portfolio_run(run_id, owner=owner_scope(caller))
    if run is None:
        raise RunNotFound(run_id)
    return run


def get_run(store: AuditStore, caller: ApiKeyRecord, run_id: str) -> dict[str, Any]:
    """Status, progress and (when done) the result of a run the caller may see.

    Raises
    ------
    RunNotFound
        No such run, or another key's.
    """
    run = _owned_run(store, caller, run_id)
    events = store.portfolio_events(run.id)
    last = events[-1]
    result = json.loads(last.result_json) if last.result_json else None
    return {
        "id": run.id,
        "created_at": run.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "status": last.status,
        "progress": {"loans_done": last.loans_done, "loans_total": run.n_loans},
        "updated_at": last.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "n_paths": run.n_paths,
        "seed": run.seed,
        "npl_tolerance_pct": run.npl_tolerance_pct,
        "detail": last.detail,
        "result": result,
    }


def get_book(store: AuditStore, caller: ApiKeyRecord, run_id: str) -> LoanBook:
    """The validated loan book of a run the caller may see (as stored when it was queued).

    Raises
    ------
    RunNotFound
        No such run, or another key's.
    """
    run = _owned_run(store, caller, run_id)
    stored = json.loads(run.book_json)
    return parse_book(stored["rows"], stored["columns"], f"of run {run.id}")


def _assessment_record(
    run: PortfolioRunRecord, book: LoanBook, o: LoanOutcome, obj: dict[str, Any]
) -> AssessmentRecord:
    """A loan's assessment ``obj`` (its ``o.assessment``) as an audit record of the run's owner."""
    loan = next(x for x in book.loans if x.row == o.row)
    request = loan.request.model_dump(mode="json", exclude_none=True) | {"seed": o.seed}
    prov = obj["provenance"]
    return AssessmentRecord(
        id=str(obj["id"]),
        created_at=datetime.fromisoformat(str(prov["created_at"]).replace("Z", "+00:00")),
        request_id=run.request_id,
        api_key_id=run.api_key_id,
        decision=str(obj["decision"]),
        technology=loan.request.project.technology,
        site_lat=loan.request.site.lat,
        site_lon=loan.request.site.lon,
        site_name=loan.request.site.name,
        dataset_sha256=str(prov["dataset_sha256"]),
        policy_id=str(prov["policy_id"]),
        policy_version=str(prov["policy_version"]),
        model_versions=dict(prov.get("model_versions") or {}),
        code_version=str(prov["code_version"]),
        seed=o.seed,
        request_json=json.dumps(request, ensure_ascii=False, allow_nan=False),
        response_json=json.dumps(obj, ensure_ascii=False, allow_nan=False),
    )


class Worker:
    """Takes open runs from the audit database and computes them.

    Parameters
    ----------
    store : AuditStore
        The service's audit database.
    cube_path : Path
        The service's cube (a run made on another cube fails with a reason).
    cube_sha256 : str
        Its sha256.
    models_dir : Path or None
        The model registry (production PD scorecard).
    workers : int, optional
        Processes for the assessments (default: the CPUs).
    url : str, optional
        Redis URL of the queue.
    poll_s : float
        Longest wait between two looks at the database [s].
    """

    def __init__(
        self,
        store: AuditStore,
        cube_path: Path,
        cube_sha256: str,
        models_dir: Path | None,
        *,
        workers: int | None = None,
        url: str | None = None,
        poll_s: float = 5.0,
    ) -> None:
        self.store = store
        self.cube_path = cube_path
        self.cube_sha256 = cube_sha256
        self.models_dir = models_dir
        self.workers = workers
        self.url = url or queue_url()
        self.poll_s = poll_s

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Compute runs until ``stop`` is set (or the process is interrupted)."""
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=self.poll_s + 5.0)
        while stop is None or not stop.is_set():
            try:
                while self.run_next():
                    pass
            except StoreUnavailable as exc:
                _log.error("audit database unavailable, retrying: %s", exc)
            try:
                client.blpop([QUEUE_KEY], timeout=max(int(self.poll_s), 1))
            except redis.RedisError as exc:
                _log.warning("queue unavailable (%s); polling the database", exc)
                time.sleep(self.poll_s)

    def run_next(self) -> bool:
        """Claim and compute the oldest open run; False when there is none to take."""
        now = utcnow()
        for run_id, last in self.store.open_portfolio_runs():
            if last.status == "running" and now - last.at < timedelta(seconds=STALE_S):
                continue  # another worker is on it
            run = self.store.get_portfolio_run(run_id)
            if run is None:  # pragma: no cover - the events name a stored run
                continue
            try:
                self.store.add_portfolio_event(
                    PortfolioRunEvent(run_id, last.seq + 1, utcnow(), "running", 0)
                )
            except PortfolioRunTaken:
                continue
            self._compute(run, last.seq + 1)
            return True
        return False

    def _compute(self, run: PortfolioRunRecord, seq: int) -> None:
        state = {"seq": seq, "at": time.monotonic()}

        def append(
            status: str, done: int, detail: str | None = None, result: str | None = None
        ) -> None:
            state["seq"] += 1
            self.store.add_portfolio_event(
                PortfolioRunEvent(run.id, int(state["seq"]), utcnow(), status, done, detail, result)
            )

        def progress(done: int, total: int) -> None:
            if done == total or time.monotonic() - state["at"] >= PROGRESS_EVERY_S:
                state["at"] = time.monotonic()
                append("running", done)

        _log.info("portfolio run %s started", run.id, extra={"api_key_id": run.api_key_id})
        try:
            if run.dataset_sha256 != self.cube_sha256:
                raise UsageError(
                    f"the run was accepted on the cube with sha256 {run.dataset_sha256[:12]}, "
                    f"but this worker has {self.cube_sha256[:12]}; start the worker with the "
                    "service's cube"
                )
            stored = json.loads(run.book_json)
            book = parse_book(stored["rows"], stored["columns"], f"of run {run.id}")
            result = run_portfolio(
                book,
                self.cube_path,
                n_paths=run.n_paths,
                seed=run.seed,
                npl_tolerance_pct=run.npl_tolerance_pct,
                models_dir=None if self.models_dir is None else str(self.models_dir),
                workers=self.workers,
                progress=progress,
                id_prefix=run.id,
            )
            self.store.add_portfolio_loans(
                run.id,
                [
                    (
                        o.loan_id,
                        o.row,
                        None
                        if o.assessment is None
                        else _assessment_record(run, book, o, o.assessment),
                        o.error,
                    )
                    for o in result.outcomes
                ],
            )
            text = json.dumps(result.to_dict(), ensure_ascii=False, allow_nan=False)
        except PortfolioRunTaken:
            _log.warning("portfolio run %s taken over by another worker", run.id)
            return
        except StoreUnavailable:
            raise  # the run stays open; it is taken over once stale
        except (BookError, UsageError, ModelInputError, OSError, ClimateDataError) as exc:
            detail = " ".join(str(exc).split())
            _log.error("portfolio run %s failed: %s", run.id, detail)
            append("failed", 0, detail)
            return
        except Exception:
            _log.exception("portfolio run %s failed on an internal error", run.id)
            append("failed", 0, "internal error of the portfolio worker; see its log")
            return
        append("done", run.n_loans, None, text)
        _log.info("portfolio run %s done", run.id, extra={"api_key_id": run.api_key_id})
