"""Every private or version-dependent scikit-learn name that sknotes uses.

pyproject allows scikit-learn >= 1.6, the first release with ``validate_data`` and
``__sklearn_tags__``; CI also runs the suite on the lowest allowed versions
(``.ci/min-constraints.txt``).  When scikit-learn moves or changes one of these
names, this module is the only one to edit; ``tests/test_compat.py`` fails if a
private scikit-learn import appears anywhere else in the package.

The ``sklearn-compat`` package is not used: it bridges scikit-learn 1.2-1.5 (tags,
``validate_data``), which sknotes does not support, it caps scikit-learn below its
next release, and it covers neither the callback API nor the all-zero sample
weight check below.
"""

import os
import sys
import warnings
from inspect import signature

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.validation import _check_sample_weight as _sklearn_sample_weight

try:
    from sklearn.callback import CallbackSupportMixin, with_callbacks
except ImportError:  # scikit-learn < 1.9: estimators work the same, without callbacks

    class CallbackSupportMixin:
        """Placeholder: this scikit-learn has no callback API."""

    def with_callbacks(method):
        return method


__all__ = [
    "CallbackSupportMixin",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "_check_sample_weight",
    "_fit_context",
    "warn_at_caller",
    "with_callbacks",
]


if "allow_all_zero_weights" in signature(_sklearn_sample_weight).parameters:
    _check_sample_weight = _sklearn_sample_weight
else:  # scikit-learn < 1.9 accepts all-zero weights: the weighted mean is then 0/0

    def _check_sample_weight(sample_weight, X, *, allow_all_zero_weights=False, **kw):
        """scikit-learn's ``_check_sample_weight``, refusing all-zero weights as 1.9."""
        sample_weight = _sklearn_sample_weight(sample_weight, X, **kw)
        if not allow_all_zero_weights and not sample_weight.any():
            raise ValueError(
                "Sample weights must contain at least one non-zero number."
            )
        return sample_weight


def _wrapper_code(decorate):
    def method(self):
        pass

    return decorate(method).__code__


# scikit-learn's decorators around fit/partial_fit: their frames are not the caller.
_SKLEARN_WRAPPERS = frozenset(
    {
        _wrapper_code(_fit_context(prefer_skip_nested_validation=True)),
        _wrapper_code(with_callbacks),
    }
)
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_at_caller(message, category=UserWarning):
    """``warnings.warn`` attributed to the code that called sknotes (``fit``,
    ``partial_fit``...), however deep in the package and scikit-learn's
    decorators it is raised: the line a user can act on."""
    frame, stacklevel = sys._getframe(0), 1
    while frame is not None and (
        frame.f_code.co_filename.startswith(_PACKAGE)
        or frame.f_code in _SKLEARN_WRAPPERS
    ):
        frame, stacklevel = frame.f_back, stacklevel + 1
    warnings.warn(message, category, stacklevel=stacklevel)
