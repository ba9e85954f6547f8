"""ONNX export through skl2onnx: importing this module registers the converters.

After ``import sknotes.onnx``, skl2onnx's own ``to_onnx`` and ``convert_sklearn``
convert

- :class:`~sknotes.MLPRegressorFromNotes` (every activation, ``loss='squared_error'``
  and ``loss='poisson'``), alone or inside a ``Pipeline``;
- :class:`~sknotes.EmbeddingBagRegressor` fitted on a bag matrix, alone (the ONNX
  input is then a dense tensor of the bag's columns) or after a ``CountVectorizer``
  or ``TfidfVectorizer`` in a ``Pipeline`` fed raw strings.

The graph computes in the type of its input: ``FloatTensorType`` (float32) or
``DoubleTensorType`` (float64), or the estimator's own dtype for an integer input
(counts); skl2onnx's text vectorizers always emit float32.
An ``EmbeddingBagRegressor`` that holds its own vocabulary (fitted on token lists or
raw strings) cannot be expressed with skl2onnx's operators and is refused with a
``ValueError`` saying what can be exported.

The graph is the forward pass of the notes, node for node, read from the
estimators' public fitted attributes (``coefs_``, ``intercepts_``, ``embeddings_``,
``activation``, ``out_activation_``, ``pooling``, ``n_outputs_``):

- the embedding ``R = Π·Table`` is a ``MatMul`` with the table (after the ``'mean'``
  pooling's division of each row of ``Π`` by the sum of its absolute weights);
- each linear node ``S = X·W + b`` is a ``Gemm``;
- the hidden activations are ``Tanh``, ``Sigmoid``, ``Relu`` or nothing (identity);
- the output activation is nothing for squared error and ``Exp`` for Poisson (its
  input clipped as :class:`sknotes.nodes.Exp` clips it).

Text vectorizers are skl2onnx's own converters. Two of their defaults need
:func:`vectorizer_options` (or :func:`to_onnx`, which passes them): onnxruntime's
lowercasing asks for the locale ``en_US.UTF-8``, missing on many machines
(``C.UTF-8`` is built into glibc), and scikit-learn's default ``token_pattern`` is
replaced by the ASCII ``[a-zA-Z0-9_]+`` (``café`` would become ``caf``);
``[\\pL\\pN_]{2,}`` is the same pattern in the re2 syntax of onnxruntime. Supported:
``analyzer='word'`` (with ``ngram_range``, ``stop_words``, ``binary``, ``lowercase``,
``min_df``/``max_df``/``max_features``), ``analyzer='char'``, ``TfidfVectorizer``'s
``norm``, ``use_idf`` and ``smooth_idf``. Not supported: ``analyzer='char_wb'``,
``strip_accents``, a custom ``tokenizer``/``preprocessor`` (skl2onnx refuses them)
and ``sublinear_tf=True`` (skl2onnx converts it to wrong values:
:func:`vectorizer_options` refuses it).

Needs the ``onnx`` extra (skl2onnx, onnxruntime, onnx).
"""

import numpy as np
import scipy.sparse as sp

try:
    import skl2onnx
    from skl2onnx import update_registered_converter
    from skl2onnx.algebra.onnx_ops import (
        OnnxAbs,
        OnnxAdd,
        OnnxCast,
        OnnxDiv,
        OnnxEqual,
        OnnxExp,
        OnnxGemm,
        OnnxIdentity,
        OnnxMatMul,
        OnnxMin,
        OnnxMul,
        OnnxReduceSumApi11,
        OnnxRelu,
        OnnxSigmoid,
        OnnxTanh,
        OnnxWhere,
    )
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        guess_numpy_type,
    )
    from skl2onnx.common.utils import check_input_and_output_numbers
except ImportError as exc:  # an optional extra
    raise ImportError(
        "sknotes.onnx needs skl2onnx and onnxruntime: from a checkout of sknotes, "
        'pip install ".[onnx]".'
    ) from exc
from onnx import TensorProto
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from sknotes.embedding_bag import EmbeddingBagRegressor
from sknotes.mlp import MLPRegressorFromNotes

__all__ = ["check_exportable", "to_onnx", "vectorizer_options"]

# The hidden activations of the notes' nodes, as ONNX operators (None: identity).
_HIDDEN = {
    "identity": None,
    "logistic": OnnxSigmoid,
    "tanh": OnnxTanh,
    "relu": OnnxRelu,
}


def check_exportable(estimator):
    """Raise ``ValueError`` if a fitted sknotes estimator cannot be converted.

    Only an :class:`~sknotes.EmbeddingBagRegressor` that holds its own vocabulary
    (fitted on token lists or raw strings, so without ``n_features_in_``) is
    refused: skl2onnx has no operator for its tokenization and vocabulary lookup.

    Parameters
    ----------
    estimator : estimator
        Other estimators pass; an unfitted sknotes estimator raises
        ``NotFittedError``.
    """
    if isinstance(estimator, (MLPRegressorFromNotes, EmbeddingBagRegressor)):
        check_is_fitted(estimator)
    if isinstance(estimator, EmbeddingBagRegressor) and (
        estimator.pooling not in ("mean", "sum")
        or estimator.weighting != "count"
        or estimator.idf_ is not None
    ):
        raise ValueError(
            "Only pooling='mean' or 'sum' with weighting='count' and idf=False is "
            "exported to ONNX; this EmbeddingBagRegressor has "
            f"pooling={estimator.pooling!r}, weighting={estimator.weighting!r}, "
            f"idf={estimator.idf!r}. Put the weighting in the vectorizer instead "
            "(e.g. TfidfVectorizer(sublinear_tf=True), pooling='sum')."
        )
    if isinstance(estimator, EmbeddingBagRegressor) and not hasattr(
        estimator, "n_features_in_"
    ):
        raise ValueError(
            "This EmbeddingBagRegressor was fitted on token lists or raw strings: its "
            "tokenization and vocabulary cannot be expressed in ONNX. What can be "
            "exported: an EmbeddingBagRegressor fitted on a bag matrix (e.g. "
            "CountVectorizer or TfidfVectorizer output), or a Pipeline("
            "CountVectorizer() or TfidfVectorizer(), EmbeddingBagRegressor()) fitted "
            "on raw strings."
        )


# scikit-learn's default token_pattern, r"(?u)\b\w\w+\b", in re2's syntax: runs of
# two or more letters, digits or underscores (re2's \w is ASCII only).
_UNICODE_WORDS = r"[\pL\pN_]{2,}"
_DEFAULT_TOKEN_PATTERN = CountVectorizer().token_pattern


def _estimators(model):
    """``model`` and every fitted step inside its pipelines, unions and columns."""
    yield model
    children = []
    if hasattr(model, "steps"):
        children = [step for _, step in model.steps]
    elif hasattr(model, "transformer_list"):
        children = [step for _, step in model.transformer_list]
    elif hasattr(model, "transformers_"):
        children = [step for _, step, _ in model.transformers_]
    for child in children:
        if not isinstance(child, str):  # 'drop' and 'passthrough'
            yield from _estimators(child)


def vectorizer_options(model):
    """skl2onnx options for the text vectorizers inside ``model``.

    For each fitted ``CountVectorizer``/``TfidfVectorizer`` (``TfidfVectorizer`` is
    a ``CountVectorizer``): ``locale='C.UTF-8'`` and, with the default
    ``token_pattern``, its Unicode equivalent as ``tokenexp``.

    Parameters
    ----------
    model : fitted estimator or Pipeline

    Returns
    -------
    options : dict
        ``{id(vectorizer): {...}}``, for skl2onnx's ``options=``.

    Raises
    ------
    ValueError
        For ``TfidfVectorizer(sublinear_tf=True)``, which skl2onnx converts wrongly.
    """
    options = {}
    for step in _estimators(model):
        if not isinstance(step, CountVectorizer):
            continue
        if isinstance(step, TfidfVectorizer) and step.sublinear_tf:
            raise ValueError(
                "TfidfVectorizer(sublinear_tf=True) cannot be exported: skl2onnx's "
                "converter computes other values. Use sublinear_tf=False."
            )
        options[id(step)] = {"locale": "C.UTF-8"}
        if step.analyzer == "word" and step.token_pattern == _DEFAULT_TOKEN_PATTERN:
            options[id(step)]["tokenexp"] = _UNICODE_WORDS
    return options


def to_onnx(model, X, *, options=None, **kwargs):
    """skl2onnx's ``to_onnx`` with the checks and options sknotes models need.

    Refuses up front (``ValueError``) what cannot be exported, takes one row of a
    sparse ``X`` as a dense one (the ONNX input is a dense tensor), and passes
    :func:`vectorizer_options` merged under ``options``.

    Parameters
    ----------
    model : fitted estimator or Pipeline
    X : array-like or sparse matrix
        Input of the kind ``model.predict`` takes; its first row sets the ONNX
        input's type: float32 → float tensors, float64 → double tensors, str →
        string tensors (give raw strings as an array of shape (n, 1)).
    options : dict, default=None
        skl2onnx options, applied over :func:`vectorizer_options`.
    **kwargs : dict
        Passed to ``skl2onnx.to_onnx`` (``target_opset``, ``name``, …).

    Returns
    -------
    onnx.ModelProto
    """
    for step in _estimators(model):
        check_exportable(step)
    if sp.issparse(X):
        row = sp.csr_array(X)[:1].toarray()
    elif hasattr(X, "columns"):  # a DataFrame: skl2onnx names one input per column
        row = X.iloc[:1]
    else:
        row = np.asarray(X)[:1]
        if row.ndim == 1:  # raw strings
            row = row.reshape(-1, 1)
    merged = {**vectorizer_options(model), **(options or {})}
    return skl2onnx.to_onnx(model, row, options=merged, **kwargs)


def _graph_dtype(operator):
    """The input's float type; the estimator's own for other inputs (integers)."""
    dtype = guess_numpy_type(operator.inputs[0].type)
    if dtype in (np.float32, np.float64):
        return dtype
    return operator.raw_operator.coefs_[0].dtype.type


def _shape_calculator(operator):
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    check_exportable(operator.raw_operator)
    tensor_type = (
        DoubleTensorType if _graph_dtype(operator) == np.float64 else FloatTensorType
    )
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = tensor_type([n, operator.raw_operator.n_outputs_])


def _input(operator, dtype, opv):
    """The operator's input, cast to the graph's dtype when it is not already."""
    X = operator.inputs[0]
    if guess_numpy_type(X.type) == dtype:
        return X
    to = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    return OnnxCast(X, to=to, op_version=opv)


def _linear_chain(A, coefs, intercepts, activation, dtype, opv):
    """``S = A·W + b`` then the hidden activation, layer by layer.

    Returns the last layer's ``S``, before the output activation: the regressor's
    output is ``S`` or ``exp(S)``; a classifier's will be ``softmax(S)`` or
    ``sigmoid(S)`` with labels from an ``ArgMax``.
    """
    for i, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        A = OnnxGemm(
            A, np.asarray(W, dtype=dtype), np.asarray(b, dtype=dtype), op_version=opv
        )
        if i < len(coefs) - 1 and _HIDDEN[activation] is not None:
            A = _HIDDEN[activation](A, op_version=opv)
    return A


def _regression_output(S, out_activation, dtype, opv, output_names):
    """``Ŷ = S`` (squared error) or ``Ŷ = exp(min(S, log(max) − 1))`` (Poisson)."""
    if out_activation == "identity":
        return OnnxIdentity(S, op_version=opv, output_names=output_names)
    if out_activation == "exp":
        # sknotes.nodes.Exp clips here so that a diverged model stays finite.
        upper = np.array([np.log(np.finfo(dtype).max) - 1.0], dtype=dtype)
        clipped = OnnxMin(S, upper, op_version=opv)
        return OnnxExp(clipped, op_version=opv, output_names=output_names)
    raise ValueError(f"No ONNX conversion for out_activation_={out_activation!r}.")


def _mean_pooling(P, dtype, opv):
    """Each row of ``Π`` divided by the sum of its absolute weights; zero rows stay."""
    norm = OnnxReduceSumApi11(OnnxAbs(P, op_version=opv), axes=[1], op_version=opv)
    zero, one = np.array([0], dtype=dtype), np.array([1], dtype=dtype)
    safe = OnnxWhere(OnnxEqual(norm, zero, op_version=opv), one, norm, op_version=opv)
    return OnnxDiv(P, safe, op_version=opv)


def _convert(scope, operator, container):
    """The forward pass of either estimator: ``[Π·Table →] linear chain → Ŷ``."""
    model = operator.raw_operator
    check_exportable(model)
    opv, dtype = container.target_opset, _graph_dtype(operator)
    A = _input(operator, dtype, opv)
    linear, scale, shift = None, None, None
    if isinstance(model, EmbeddingBagRegressor):
        if model.pooling == "mean":
            A = _mean_pooling(A, dtype, opv)
        if model.linear_coef_ is not None:
            rows = model.embeddings_.shape[0]
            w = np.asarray(model.linear_coef_, dtype=dtype).reshape(rows, -1)
            # The linear path Π·w, joined to the output layer by the Add node.
            linear = OnnxMatMul(A, w, op_version=opv)
        scale = np.asarray(model._y_scale, dtype=dtype)
        shift = np.asarray(model._y_mean, dtype=dtype)
        # The notes' embedding node: R = Π·Table.
        A = OnnxMatMul(A, np.asarray(model.embeddings_, dtype=dtype), op_version=opv)
    S = _linear_chain(A, model.coefs_, model.intercepts_, model.activation, dtype, opv)
    if linear is not None:
        S = OnnxAdd(S, linear, op_version=opv)
    names = operator.outputs[:1]
    if scale is not None:
        # Back from the standardised target the network was trained on.
        Y = _regression_output(S, model.out_activation_, dtype, opv, None)
        Y = OnnxMul(Y, scale, op_version=opv)
        output = OnnxAdd(Y, shift, op_version=opv, output_names=names)
    else:
        output = _regression_output(S, model.out_activation_, dtype, opv, names)
    output.add_to(scope, container)


for _estimator in (MLPRegressorFromNotes, EmbeddingBagRegressor):
    update_registered_converter(
        _estimator, f"Sknotes{_estimator.__name__}", _shape_calculator, _convert
    )
