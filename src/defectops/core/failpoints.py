"""Named points where a test may kill the process, to prove a rerun repairs what a crash left.

``DEFECTOPS_FAILPOINT=ingest:after-commit defectops ingest ...`` dies with SIGKILL when the
ingest reaches that point, exactly as a power cut or an OOM kill would end it there: no
``finally``, no flush. Unset (always, outside tests), :func:`reached` does nothing.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "DEFECTOPS_FAILPOINT"


def reached(name: str) -> None:
    """SIGKILL this process when ``DEFECTOPS_FAILPOINT`` names this point."""
    if os.environ.get(VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
