"""aicd: one CI/CD pipeline for code, models and data, as GitHub Actions.

The public surface is the ``aicd`` command (:mod:`aicd.cli`) and the four stage entrypoints in
:mod:`aicd.steps`; everything else is internal and may change between releases.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
