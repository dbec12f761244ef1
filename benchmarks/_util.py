"""Helpers shared by the benchmark scripts: run a step in a fresh process, read its peak RSS."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def run_measured(code: str) -> dict[str, float]:
    """Run ``code`` in a new Python process; it must set ``result`` (a dict) to report.

    The child adds ``peak_rss_mb`` (its own maximum resident set size, ``VmHWM``) and ``seconds``
    (wall time of ``code`` alone, without interpreter start-up).
    """
    wrapper = textwrap.dedent(
        """
        import json, time
        t0 = time.perf_counter()
        result = {}
        exec(compile(CODE, "<bench>", "exec"))
        result["seconds"] = time.perf_counter() - t0
        # VmHWM is this process image's own peak; ru_maxrss would include the parent's
        # peak inherited through fork.
        with open("/proc/self/status") as status:
            hwm = [ln for ln in status if ln.startswith("VmHWM:")][0]
        result["peak_rss_mb"] = int(hwm.split()[1]) / 1024
        print("RESULT " + json.dumps(result))
        """
    ).replace("CODE", repr(code))
    proc = subprocess.run(
        [sys.executable, "-c", wrapper], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return dict(json.loads(line[len("RESULT ") :]))
