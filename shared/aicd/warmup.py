"""Import, in the background, the modules a later phase of a step needs, while a long phase runs.

A train stage spends its time in the fit, where scikit-learn's trees run on every core outside
Python's lock; after it come the ONNX export, the skops file and MLflow's model flavour, whose
imports cost two to four seconds more on a loaded runner. Importing them on a thread during the fit
takes that off the stage's wall time; scikit-learn itself is imported the same way while the data is
hashed and read, which waits on the disk, the registry and Arrow's threads. Importing is all the
thread does (a failure is left for the real import to report, where it names the problem), and
:meth:`Warmup.wait` is called before the phase that needs them. A warm-up starts after the step's own
imports of shared packages are done (MLflow's client imports parts of SciPy), so two threads never
import the same modules at once: Python's per-module locks would order them, but two import chains
crossing each other can deadlock. The thread is a daemon: a step that ends early (a refusal, a reused version)
does not wait for it.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable

__all__ = ["Warmup"]


class Warmup:
    """A daemon thread importing ``modules`` in order, started at once."""

    def __init__(self, modules: Iterable[str]):
        self.modules = tuple(modules)
        self._thread = threading.Thread(target=self._run, name="aicd-warmup", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for name in self.modules:
            try:
                importlib.import_module(name)
            except Exception:  # the step's own import reports it, with its context
                return

    def wait(self, timeout: float | None = None) -> None:
        """Return once every import is done (or ``timeout`` seconds have passed)."""
        self._thread.join(timeout)
