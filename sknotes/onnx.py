"""ONNX export through skl2onnx: importing this module registers the converters.

After ``import sknotes.onnx``, skl2onnx's own ``to_onnx`` and ``convert_sklearn``
convert

- :class:`~sknotes.MLPRegressorFromNotes` (every activation, ``loss='squared_error'``
  and ``loss='poisson'``) and :class:`~sknotes.MLPClassifierFromNotes` (binary,
  multiclass and multilabel ``y``), alone or inside a ``Pipeline``;
- :class:`~sknotes.EmbeddingBagRegressor` and
  :class:`~sknotes.EmbeddingBagClassifier` fitted on a bag matrix, alone (the ONNX
  input is then a dense tensor of the bag's columns) or after a ``CountVectorizer``
  or ``TfidfVectorizer`` in a ``Pipeline`` fed raw strings; every ``pooling`` of a
  bag matrix ('sum', 'mean', 'sqrtn'), every ``weighting``, ``idf`` and the
  linear path.

A classifier's graph has skl2onnx's two classifier outputs, as its own
``MLPClassifier`` converter makes them: the labels (int64 for integer, boolean or
integer-valued float classes, strings for string classes; the int64 indicator
matrix for multilabel ``y``) and the probabilities in the order of ``classes_``,
which skl2onnx wraps by default in a ``ZipMap`` (a list of ``{class:
probability}`` dicts). ``options={'zipmap': False}`` keeps the probability tensor
and ``'columns'`` gives one output per class; the options ``nocl`` and
``output_class_labels`` are skl2onnx's too. ONNX's ``ZipMap`` takes float32 only:
a float64 classifier graph needs ``zipmap=False`` or ``'columns'``, and is refused
with a ``ValueError`` saying so otherwise (skl2onnx's own converters would write
a graph onnxruntime cannot load).

The graph computes in the type of its input: ``FloatTensorType`` (float32) or
``DoubleTensorType`` (float64), or the estimator's own dtype for an integer input
(counts); skl2onnx's text vectorizers always emit float32.
An embedding bag that holds its own vocabulary (fitted on token lists or raw
strings) cannot be expressed with skl2onnx's operators and is refused with a
``ValueError`` saying what can be exported. So is a model whose fitted state or
parameters hold something this converter does not know (an attribute or a
parameter added to the estimators after it was written): it is refused rather
than exported without it.

The graph is the forward pass of the notes, node for node, read from the
estimators' public fitted attributes (``coefs_``, ``intercepts_``, ``embeddings_``,
``linear_coef_``, ``idf_``, ``activation``, ``out_activation_``, ``pooling``,
``weighting``, ``n_outputs_``, ``classes_``):

- a bag's values are weighed as ``predict`` weighs them: 'binary' is ``x > 0``,
  'sublinear' is ``1 + ln(x)`` where ``x > 0``, ``idf_`` multiplies column by
  column (``predict`` refuses negative values with 'binary' and 'sublinear'; the
  graph cannot raise, and gives them the weight 0);
- the embedding ``R = Π·Table`` is a ``MatMul`` with the table, after the
  pooling's division of each row of ``Π`` by the sum of its absolute weights
  ('mean') or by the square root of the sum of their squares ('sqrtn');
- each linear node ``S = X·W + b`` is a ``Gemm``;
- the hidden activations are ``Tanh``, ``Sigmoid``, ``Relu`` or nothing (identity);
- the linear path ``Π·w`` is a ``MatMul`` added to the output layer's ``S``;
- the output activation is nothing for squared error and ``Exp`` for Poisson (its
  input clipped as :class:`sknotes.nodes.Exp` clips it);
- a classifier's probabilities are ``predict_proba``'s: ``Softmax`` of the
  logits ``S`` for several classes, else ``Sigmoid`` clipped to ``[eps, 1 − eps]``
  (``[σ(−s), σ(s)]`` for two classes); its labels are ``predict``'s, the class of
  the ``ArgMax`` of the softmax, or ``σ(s) > 0.5``.

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
        OnnxArgMax,
        OnnxCast,
        OnnxClip,
        OnnxConcat,
        OnnxDiv,
        OnnxEqual,
        OnnxExp,
        OnnxGather,
        OnnxGemm,
        OnnxGreater,
        OnnxIdentity,
        OnnxLog,
        OnnxMatMul,
        OnnxMin,
        OnnxMul,
        OnnxNeg,
        OnnxReduceSumApi11,
        OnnxRelu,
        OnnxReshapeApi13,
        OnnxSigmoid,
        OnnxSoftmax,
        OnnxSqrt,
        OnnxTanh,
        OnnxWhere,
    )
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
        guess_numpy_type,
    )
    from skl2onnx.common.utils import check_input_and_output_numbers
    from skl2onnx.common.utils_classifier import get_label_classes

    # What skl2onnx's to_onnx does to its options first (private in 1.20).
    from skl2onnx.common.utils_sklearn import _process_options
except ImportError as exc:  # an optional extra
    raise ImportError(
        "sknotes.onnx needs skl2onnx and onnxruntime: from a checkout of sknotes, "
        'pip install ".[onnx]".'
    ) from exc
from onnx import TensorProto
from sklearn.base import is_classifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from sknotes._embedding_bag import EmbeddingBagRegressor
from sknotes._embedding_bag_classifier import EmbeddingBagClassifier
from sknotes._mlp import MLPClassifierFromNotes, MLPRegressorFromNotes

__all__ = ["check_exportable", "to_onnx", "vectorizer_options"]

# The hidden activations of the notes' nodes, as ONNX operators (None: identity).
_HIDDEN = {
    "identity": None,
    "logistic": OnnxSigmoid,
    "tanh": OnnxTanh,
    "relu": OnnxRelu,
}


# What the converter knows of each estimator. A parameter or fitted attribute
# outside these sets may change predict in a way the graph would not follow
# (a linear path, a target's scaling, ...): such a model is refused, not exported
# without it. Extend the sets only together with the conversion.
_TRAINING_PARAMS = frozenset(
    # Shape the fit only; the graph reads its result (coefs_, embeddings_, ...).
    "alpha batch_size beta_1 beta_2 early_stopping epsilon hidden_layer_sizes "
    "learning_rate learning_rate_init max_fun max_iter momentum n_iter_no_change "
    "nesterovs_momentum power_t random_state shuffle solver tol validation_fraction "
    "verbose warm_start loss n_jobs".split()
)
_EMBEDDING_BAG_PARAMS = (
    _TRAINING_PARAMS
    | {"activation", "pooling", "weighting", "idf", "dtype", "embedding_dim"}
    # Penalties of the table and of a linear path's ridge start.
    | {"alpha_embedding", "alpha_linear", "linear_path"}
    # Vocabulary and table initialisation: their effect is in embeddings_ (a
    # model with a vocabulary is refused anyway).
    | {"max_length", "min_count", "max_vocabulary", "n_buckets", "tokenizer"}
    | {"lowercase", "token_pattern", "ngram_range", "char_ngram_range"}
    | {"n_subword_buckets", "initial_embeddings", "freeze_embeddings"}
    | {"char_wb_ngram_range", "n_char_buckets"}
)
# A classifier's parameters are its regressor's (without loss).
_CONVERTED_PARAMS = {
    MLPRegressorFromNotes: _TRAINING_PARAMS | {"activation"},
    MLPClassifierFromNotes: _TRAINING_PARAMS | {"activation"},
    EmbeddingBagRegressor: _EMBEDDING_BAG_PARAMS,
    EmbeddingBagClassifier: _EMBEDDING_BAG_PARAMS,
}
_FITTED = frozenset(
    "coefs_ intercepts_ n_outputs_ out_activation_ n_layers_ n_features_in_ "
    "feature_names_in_ loss_ loss_curve_ best_loss_ validation_scores_ "
    "validation_loss_curve_ best_validation_score_ n_iter_ t_ "
    # The fit loop's own state, read by no prediction.
    "_network _optimizers _optimizer_params _fit_state _rng "
    "_no_improvement_count _fitted_structure "
    # Which train step ran (compiled or reference): the same model either way.
    "_reference_reason".split()
)
_EMBEDDING_BAG_FITTED = (
    _FITTED
    | {"embeddings_", "idf_", "vocabulary_", "max_length_", "n_pretrained_rows_"}
    | {"_encoder", "_input_form"}
    # Training only: the table's penalty by document frequency, the ridge alpha
    # chosen for a linear path's start, the output bias's starting value.
    | {"_document_frequency", "_row_penalty", "alpha_linear_", "_y_log_mean"}
    # Converted: the linear path (Π·w added to the output layer) and the target's
    # standardisation, undone after the output activation.
    | {"linear_coef_", "_y_mean", "_y_scale"}
)
# Converted: the labels (classes_); the binarizer's thresholds are predict's.
_CLASSIFIER_FITTED = frozenset({"classes_", "_label_binarizer"})
_CONVERTED_FITTED = {
    MLPRegressorFromNotes: _FITTED,
    MLPClassifierFromNotes: _FITTED | _CLASSIFIER_FITTED,
    EmbeddingBagRegressor: _EMBEDDING_BAG_FITTED,
    EmbeddingBagClassifier: _EMBEDDING_BAG_FITTED | _CLASSIFIER_FITTED,
}
# scikit-learn's own bookkeeping (callbacks, set_output, metadata routing).
_SKLEARN_STATE = ("_skl_", "_sklearn_", "_callback", "_metadata_request")
_POOLINGS = ("sum", "mean", "sqrtn")
_WEIGHTINGS = ("count", "binary", "sublinear")
_CLASSIFIER_OUTPUTS = ("logistic", "softmax")


def check_exportable(estimator):
    """Raise ``ValueError`` if a fitted sknotes estimator cannot be converted.

    Refused: an :class:`~sknotes.EmbeddingBagRegressor` or
    :class:`~sknotes.EmbeddingBagClassifier` that holds its own vocabulary (fitted
    on token lists or raw strings, so without ``n_features_in_``), as skl2onnx
    has no operator for its tokenization and vocabulary lookup; a classifier
    whose class labels are not integers, booleans, integer-valued floats or
    strings (ONNX's label tensor is int64 or string); and any sknotes estimator
    with a parameter, a parameter value or a fitted attribute the converter does
    not know, since the graph would silently leave out what it does.

    Parameters
    ----------
    estimator : estimator
        Other estimators pass; an unfitted sknotes estimator raises
        ``NotFittedError``.
    """
    # The nearest sknotes class: EmbeddingBagClassifier is an EmbeddingBagRegressor.
    known = next(
        (cls for cls in type(estimator).__mro__ if cls in _CONVERTED_PARAMS), None
    )
    if known is None:
        return
    check_is_fitted(estimator)
    name = type(estimator).__name__
    params = estimator.get_params(deep=False)
    unknown = sorted(set(params) - _CONVERTED_PARAMS[known]) + sorted(
        key
        for key in vars(estimator)
        if key not in params
        and key not in _CONVERTED_FITTED[known]
        and not key.startswith(_SKLEARN_STATE)
    )
    if unknown:
        raise ValueError(
            f"This {name} has {', '.join(unknown)}, which sknotes.onnx does not "
            "convert: exporting it without them would give other predictions than "
            "predict. Export a model without them, or extend the converter."
        )
    bag = issubclass(known, EmbeddingBagRegressor)
    if bag and not hasattr(estimator, "n_features_in_"):
        raise ValueError(
            f"This {name} was fitted on token lists or raw strings: its tokenization "
            f"and vocabulary cannot be expressed in ONNX. What can be exported: an "
            f"{known.__name__} fitted on a bag matrix (e.g. CountVectorizer or "
            f"TfidfVectorizer output), or a Pipeline(CountVectorizer() or "
            f"TfidfVectorizer(), {known.__name__}()) fitted on raw strings."
        )
    if bag and (
        estimator.pooling not in _POOLINGS or estimator.weighting not in _WEIGHTINGS
    ):
        raise ValueError(
            f"No ONNX conversion for pooling={estimator.pooling!r} with "
            f"weighting={estimator.weighting!r}: a bag matrix's pooling is one of "
            f"{_POOLINGS} and its weighting one of {_WEIGHTINGS}."
        )
    if estimator.activation not in _HIDDEN:
        raise ValueError(f"No ONNX conversion for activation={estimator.activation!r}.")
    if is_classifier(estimator):
        if estimator.out_activation_ not in _CLASSIFIER_OUTPUTS:
            raise ValueError(
                f"No ONNX conversion for out_activation_={estimator.out_activation_!r}."
            )
        _label_values(estimator.classes_)


def _label_values(classes):
    """``classes`` as ONNX's label tensor holds them: int64 or strings.

    Integer-valued floats and booleans become int64, as in skl2onnx's own
    classifier converters; other labels are refused.
    """
    classes = np.asarray(classes)
    if classes.dtype.kind in "biu":
        return classes.astype(np.int64)
    if classes.dtype.kind == "f" and np.array_equal(classes, np.round(classes)):
        return classes.astype(np.int64)
    if classes.dtype.kind == "U" or all(isinstance(c, str) for c in classes):
        return classes.astype(str)
    raise ValueError(
        f"Class labels {classes!r} cannot be ONNX labels, which are int64 or "
        "strings: fit on integer, boolean or string labels (integer-valued floats "
        "convert as integers)."
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
        skl2onnx options in any of its forms (``{'zipmap': False}``,
        ``{id(step): {...}}``, ``{'step__zipmap': False}``), applied over
        :func:`vectorizer_options`.
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
    merged = vectorizer_options(model)
    # skl2onnx takes keys of one kind only: ids and classes, or names ('zipmap'
    # for the model itself, 'step__zipmap'). Its own resolution turns names into
    # ids, so that options for one model merge with the vectorizers'.
    resolved = _process_options(model, options) or {}
    for key, values in resolved.items():
        if not isinstance(key, str):
            merged[key] = {**merged.get(key, {}), **values}
    return skl2onnx.to_onnx(model, row, options=merged, **kwargs)


def _graph_dtype(operator):
    """The input's float type; the estimator's own for other inputs (integers)."""
    dtype = guess_numpy_type(operator.inputs[0].type)
    if dtype in (np.float32, np.float64):
        return dtype
    return operator.raw_operator.coefs_[0].dtype.type


def _tensor_type(dtype):
    return DoubleTensorType if dtype == np.float64 else FloatTensorType


def _shape_calculator(operator):
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    check_exportable(operator.raw_operator)
    n = operator.inputs[0].get_first_dimension()
    tensor_type = _tensor_type(_graph_dtype(operator))
    operator.outputs[0].type = tensor_type([n, operator.raw_operator.n_outputs_])


def _classifier_shape_calculator(operator):
    """skl2onnx's two classifier outputs: labels, then probabilities."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=2)
    model = operator.raw_operator
    check_exportable(model)
    dtype = _graph_dtype(operator)
    zipmap = operator.scope_inst.get_options(model, {"zipmap": True})["zipmap"]
    if zipmap is True and dtype == np.float64:
        raise ValueError(
            f"This {type(model).__name__} graph computes in float64, and ONNX's ZipMap "
            "(skl2onnx's default classifier output) takes float32 only. Pass "
            "options={'zipmap': False} (a probability tensor) or "
            "options={'zipmap': 'columns'}, or a float32 input."
        )
    n = operator.inputs[0].get_first_dimension()
    classes = _label_values(get_label_classes(operator.scope_inst, model))
    label_type = StringTensorType if classes.dtype.kind == "U" else Int64TensorType
    multilabel = model._label_binarizer.y_type_ == "multilabel-indicator"
    operator.outputs[0].type = label_type([n, len(classes)] if multilabel else [n])
    operator.outputs[1].type = _tensor_type(dtype)([n, len(model.classes_)])


def _input(operator, dtype, opv):
    """The operator's input, cast to the graph's dtype when it is not already."""
    X = operator.inputs[0]
    if guess_numpy_type(X.type) == dtype:
        return X
    to = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    return OnnxCast(X, to=to, op_version=opv)


def _linear_chain(A, coefs, intercepts, activation, dtype, opv):
    """``S = A·W + b`` then the hidden activation, layer by layer.

    Returns the last layer's ``S``, before the output activation (see
    :func:`_scores`).
    """
    for i, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        A = OnnxGemm(
            A, np.asarray(W, dtype=dtype), np.asarray(b, dtype=dtype), op_version=opv
        )
        if i < len(coefs) - 1 and _HIDDEN[activation] is not None:
            A = _HIDDEN[activation](A, op_version=opv)
    return A


def _regression_output(S, out_activation, dtype, opv):
    """``Ŷ = S`` (squared error) or ``Ŷ = exp(min(S, log(max) − 1))`` (Poisson)."""
    if out_activation == "identity":
        return OnnxIdentity(S, op_version=opv)
    if out_activation == "exp":
        # sknotes.nodes.Exp clips here so that a diverged model stays finite.
        upper = np.array([np.log(np.finfo(dtype).max) - 1.0], dtype=dtype)
        clipped = OnnxMin(S, upper, op_version=opv)
        return OnnxExp(clipped, op_version=opv)
    raise ValueError(f"No ONNX conversion for out_activation_={out_activation!r}.")


def _weigh(P, weighting, idf, dtype, opv):
    """``predict``'s weights of a bag's values (text.weigh_bag), then its IDF."""
    zero = np.array([0], dtype=dtype)
    to = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    if weighting == "binary":
        P = OnnxCast(OnnxGreater(P, zero, op_version=opv), to=to, op_version=opv)
    elif weighting == "sublinear":
        # Where picks 0 for x <= 0: log's -inf (or NaN) there is never used.
        one = np.array([1], dtype=dtype)
        log = OnnxAdd(one, OnnxLog(P, op_version=opv), op_version=opv)
        P = OnnxWhere(OnnxGreater(P, zero, op_version=opv), log, zero, op_version=opv)
    if idf is not None:
        P = OnnxMul(P, np.asarray(idf, dtype=dtype).reshape(1, -1), op_version=opv)
    return P


def _pool(P, pooling, dtype, opv):
    """Each row of ``Π`` divided by its L1 ('mean') or L2 ('sqrtn') norm.

    Rows of norm zero stay zero, as in :func:`sknotes._text.normalize_bag_rows`.
    """
    if pooling == "sum":
        return P
    if pooling == "mean":
        norm = OnnxReduceSumApi11(OnnxAbs(P, op_version=opv), axes=[1], op_version=opv)
    else:
        squares = OnnxReduceSumApi11(
            OnnxMul(P, P, op_version=opv), axes=[1], op_version=opv
        )
        norm = OnnxSqrt(squares, op_version=opv)
    zero, one = np.array([0], dtype=dtype), np.array([1], dtype=dtype)
    safe = OnnxWhere(OnnxEqual(norm, zero, op_version=opv), one, norm, op_version=opv)
    return OnnxDiv(P, safe, op_version=opv)


def _scores(operator, dtype, opv):
    """The network's output layer ``S``: ``[Π·Table →] linear chain [+ Π·w]``.

    Before the output activation: the regressor's ``Ŷ`` is ``S`` or ``exp(S)``,
    a classifier's logits are ``S``.
    """
    model = operator.raw_operator
    A = _input(operator, dtype, opv)
    linear = None
    if isinstance(model, EmbeddingBagRegressor):
        A = _weigh(A, model.weighting, model.idf_, dtype, opv)
        A = _pool(A, model.pooling, dtype, opv)
        if model.linear_coef_ is not None:
            rows = model.embeddings_.shape[0]
            w = np.asarray(model.linear_coef_, dtype=dtype).reshape(rows, -1)
            # The linear path Π·w, joined to the output layer by the Add node.
            linear = OnnxMatMul(A, w, op_version=opv)
        # The notes' embedding node: R = Π·Table.
        A = OnnxMatMul(A, np.asarray(model.embeddings_, dtype=dtype), op_version=opv)
    S = _linear_chain(A, model.coefs_, model.intercepts_, model.activation, dtype, opv)
    if linear is not None:
        S = OnnxAdd(S, linear, op_version=opv)
    return S


def _unscale(Y, model, dtype, opv, output_names):
    """``Y·scale + mean``: back from the standardised target an embedding bag fits.

    An identity for a classifier, whose targets are not standardised (its
    ``predict`` applies it to the logits all the same).
    """
    scale, shift = getattr(model, "_y_scale", None), getattr(model, "_y_mean", None)
    if scale is None or (np.all(scale == 1) and np.all(shift == 0)):
        return OnnxIdentity(Y, op_version=opv, output_names=output_names)
    Y = OnnxMul(Y, np.asarray(scale, dtype=dtype), op_version=opv)
    return OnnxAdd(
        Y, np.asarray(shift, dtype=dtype), op_version=opv, output_names=output_names
    )


def _convert(scope, operator, container):
    """A regressor's forward pass: ``S`` → output activation → ``Ŷ``."""
    model = operator.raw_operator
    check_exportable(model)
    opv, dtype = container.target_opset, _graph_dtype(operator)
    S = _scores(operator, dtype, opv)
    Y = _regression_output(S, model.out_activation_, dtype, opv)
    _unscale(Y, model, dtype, opv, operator.outputs[:1]).add_to(scope, container)


def _sigmoid(S, dtype, opv):
    """``σ(S) = 1/(1 + exp(−S))``, exact to the dtype's relative precision.

    Not ONNX's ``Sigmoid``: onnxruntime's keeps only absolute precision for
    negative ``S`` (in float32 ``σ(−10)`` is off by 2e-4 of its value and
    ``σ(−30)`` is 0). ``exp(−S)`` may overflow to ``inf``, giving ``σ = 0`` as the
    clipping to ``eps`` then requires.
    """
    one = np.array([1], dtype=dtype)
    denominator = OnnxAdd(
        one, OnnxExp(OnnxNeg(S, op_version=opv), op_version=opv), op_version=opv
    )
    return OnnxDiv(one, denominator, op_version=opv)


def _convert_classifier(scope, operator, container):
    """A classifier's forward pass: logits ``S`` → probabilities and labels.

    As ``predict_proba`` and ``predict``: ``softmax(S)`` and the class of its
    ``ArgMax`` for several classes; ``σ(s) > 0.5`` for each label (multilabel) or
    for ``classes_[1]`` (two classes), the probabilities clipped to
    ``[eps, 1 − eps]`` with ``eps`` of the dtype ``predict_proba`` computes in.
    """
    model = operator.raw_operator
    check_exportable(model)
    opv, dtype = container.target_opset, _graph_dtype(operator)
    labels_name, proba_name = operator.outputs[0], operator.outputs[1]
    S = _unscale(_scores(operator, dtype, opv), model, dtype, opv, None)
    if model.out_activation_ == "softmax":
        P = OnnxSoftmax(S, axis=1, op_version=opv)
        OnnxIdentity(P, op_version=opv, output_names=[proba_name]).add_to(
            scope, container
        )
        index = OnnxArgMax(P, axis=1, keepdims=0, op_version=opv)
    else:
        eps = np.finfo(np.result_type(dtype, model.coefs_[0].dtype)).eps
        bounds = np.array([eps], dtype=dtype), np.array([1 - eps], dtype=dtype)
        sigma = _sigmoid(S, dtype, opv)
        positive = OnnxGreater(sigma, np.array([0.5], dtype=dtype), op_version=opv)
        P = OnnxClip(sigma, *bounds, op_version=opv)
        if model.n_outputs_ > 1:  # multilabel: the indicator matrix
            OnnxIdentity(P, op_version=opv, output_names=[proba_name]).add_to(
                scope, container
            )
            OnnxCast(
                positive,
                to=TensorProto.INT64,
                op_version=opv,
                output_names=[labels_name],
            ).add_to(scope, container)
            return
        # 1 − σ(s) as σ(−s), as predict_proba computes it.
        negative = OnnxClip(
            _sigmoid(OnnxNeg(S, op_version=opv), dtype, opv), *bounds, op_version=opv
        )
        OnnxConcat(
            negative, P, axis=1, op_version=opv, output_names=[proba_name]
        ).add_to(scope, container)
        index = OnnxReshapeApi13(
            OnnxCast(positive, to=TensorProto.INT64, op_version=opv),
            np.array([-1], dtype=np.int64),
            op_version=opv,
        )
    classes = _label_values(get_label_classes(scope, model))
    OnnxGather(
        classes, index, axis=0, op_version=opv, output_names=[labels_name]
    ).add_to(scope, container)


for _estimator in (MLPRegressorFromNotes, EmbeddingBagRegressor):
    update_registered_converter(
        _estimator, f"Sknotes{_estimator.__name__}", _shape_calculator, _convert
    )
for _estimator in (MLPClassifierFromNotes, EmbeddingBagClassifier):
    # skl2onnx's MLPClassifier options; 'zipmap' makes skl2onnx parse the model as
    # a classifier (labels, probabilities, then ZipMap unless zipmap=False).
    update_registered_converter(
        _estimator,
        f"Sknotes{_estimator.__name__}",
        _classifier_shape_calculator,
        _convert_classifier,
        options={
            "zipmap": [True, False, "columns"],
            "output_class_labels": [False, True],
            "nocl": [True, False],
        },
    )
