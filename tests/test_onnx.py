"""ONNX export: onnxruntime equals `predict` (float64 1e-6, float32 1e-4 relative).

Classifiers: labels equal to `predict`, probabilities to `predict_proba` within the
same tolerances.
"""

import numpy as np
import pytest

pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

from skl2onnx import convert_sklearn  # noqa: E402
from skl2onnx import to_onnx as skl2onnx_to_onnx  # noqa: E402
from skl2onnx.common.data_types import StringTensorType  # noqa: E402
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import sknotes.onnx  # noqa: E402, F401  (registers the converters)
from sknotes import (  # noqa: E402
    EmbeddingBagClassifier,
    EmbeddingBagRegressor,
    MLPClassifierFromNotes,
    MLPRegressorFromNotes,
)
from sknotes.onnx import check_exportable, to_onnx, vectorizer_options  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RTOL = {np.float64: 1e-6, np.float32: 1e-4}
WORDS = "good food bad service great awful ok slow fast cheap café été naïve".split()

# What ONNX exports: the weights of Π as the bag matrix gives them.
PLAIN = {"weighting": "count", "idf": False}
MEAN = {**PLAIN, "pooling": "mean"}


def run_all(onx, X):
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (name,) = [i.name for i in session.get_inputs()]
    return session.run(None, {name: X})


def run(onx, X):
    (y,) = run_all(onx, X)
    return y


def assert_same(onx, X_onnx, model, X, dtype):
    expected = model.predict(X)
    got = run(onx, X_onnx)
    assert got.dtype == dtype
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=RTOL[dtype])


def assert_same_classes(onx, X_onnx, model, X, dtype):
    """The graph's labels are ``predict``'s, its probabilities ``predict_proba``'s."""
    labels, proba = run_all(onx, X_onnx)
    expected = model.predict(X)
    # int64 for integer (and integer-valued float, boolean) classes, as skl2onnx.
    assert labels.dtype == (object if expected.dtype.kind in "UO" else np.int64)
    assert labels.shape == expected.shape
    np.testing.assert_array_equal(labels, expected)
    assert proba.dtype == dtype
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=RTOL[dtype])


@pytest.fixture(scope="module")
def tabular():
    rng = np.random.RandomState(0)
    X = rng.normal(2.0, 3.0, (120, 5))
    # Positive targets away from zero: relative tolerances are meaningful, and
    # they suit both losses.
    y = 2.0 + np.abs(X @ rng.normal(size=5)) / 5
    return X, np.c_[y, 1.0 + y**0.5]


@pytest.fixture(scope="module")
def texts():
    rng = np.random.RandomState(0)
    docs = [" ".join(rng.choice(WORDS, rng.randint(1, 8))) for _ in range(150)]
    docs[3] = "zzz"  # no known token in a fit without it: a zero row of Π
    y = np.array([3.0 + doc.count("good") - doc.count("bad") for doc in docs])
    return docs, y


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("in_pipeline", [False, True])
def test_mlp_every_activation_and_loss(tabular, dtype, loss, activation, in_pipeline):
    X, Y = tabular
    X = X.astype(dtype)
    model = MLPRegressorFromNotes(
        hidden_layer_sizes=(7, 4),
        activation=activation,
        loss=loss,
        max_iter=30,
        random_state=0,
    )
    if in_pipeline:
        model = make_pipeline(StandardScaler(), model)
    else:
        X = StandardScaler().fit_transform(X).astype(dtype)
    model.fit(X, Y[:, 0])
    assert_same(skl2onnx_to_onnx(model, X[:1]), X, model, X, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mlp_multi_output_and_lbfgs(tabular, dtype):
    X, Y = tabular
    X = StandardScaler().fit_transform(X).astype(dtype)
    model = MLPRegressorFromNotes(
        hidden_layer_sizes=(6,), solver="lbfgs", max_iter=40, random_state=0
    ).fit(X, Y)
    onx = skl2onnx_to_onnx(model, X[:1])
    assert run(onx, X).shape == (len(X), 2)
    assert_same(onx, X, model, X, dtype)


def class_target(X, kind, labels):
    """Binary, multiclass or multilabel ``y`` from ``X``, with int or str labels."""
    score = X[:, 0] + X[:, 1] * X[:, 2] / 3
    if kind == "multilabel":
        return np.c_[score > 0, X[:, 3] > 0.5, score + X[:, 4] > 1].astype(int)
    index = (score > 0).astype(int)
    if kind == "multiclass":
        index = np.digitize(score, np.quantile(score, [0.3, 0.6]))
    names = np.array(["no", "yes", "maybe"] if labels == "str" else [-1, 4, 7])
    return names[index]


CLASS_TARGETS = [
    ("binary", "int"),
    ("binary", "str"),
    ("multiclass", "int"),
    ("multiclass", "str"),
    ("multilabel", "int"),
]
NO_ZIPMAP = {"zipmap": False}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind, labels", CLASS_TARGETS)
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("in_pipeline", [False, True])
def test_mlp_classifier(tabular, dtype, kind, labels, activation, in_pipeline):
    X, _ = tabular
    y = class_target(StandardScaler().fit_transform(X), kind, labels)
    X = X.astype(dtype)
    model = MLPClassifierFromNotes(
        hidden_layer_sizes=(7, 4), activation=activation, max_iter=60, random_state=0
    )
    if in_pipeline:
        model = make_pipeline(StandardScaler(), model)
    else:
        X = StandardScaler().fit_transform(X).astype(dtype)
    model.fit(X, y)
    onx = skl2onnx_to_onnx(model, X[:1], options=NO_ZIPMAP)
    assert_same_classes(onx, X, model, X, dtype)


@pytest.mark.parametrize("dtype, logit", [(np.float64, 30.0), (np.float32, 12.0)])
def test_confident_binary_probabilities_keep_their_precision(tabular, dtype, logit):
    # 1 − σ(s) by subtraction keeps eps of absolute precision: about 1e-3 of its
    # value at s = 30 in float64, 1e-2 at s = 12 in float32. predict_proba and
    # the graph compute σ(−s) instead, exact to the dtype's relative precision
    # (and above the clipping at eps).
    X, _ = tabular
    X = StandardScaler().fit_transform(X).astype(dtype)
    model = MLPClassifierFromNotes(hidden_layer_sizes=(3,), max_iter=5, random_state=0)
    model.fit(X, class_target(X, "binary", "int"))
    model.coefs_[-1][...] = 0.0
    model.intercepts_[-1][...] = logit
    exact = 1 / (1 + np.exp(logit))
    assert exact > 10 * np.finfo(dtype).eps
    np.testing.assert_allclose(model.predict_proba(X)[:, 0], exact, rtol=RTOL[dtype])
    onx = to_onnx(model, X, options=NO_ZIPMAP)
    np.testing.assert_allclose(run_all(onx, X)[1][:, 0], exact, rtol=RTOL[dtype])
    # Through the hidden layer too: onnxruntime's own Sigmoid would fail this.
    model.intercepts_[-1][...] = -logit
    assert_same_classes(to_onnx(model, X, options=NO_ZIPMAP), X, model, X, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_confident_multiclass_and_multilabel_probabilities(tabular, dtype):
    # Probabilities below 1e-4, where onnxruntime's own float32 Sigmoid is off by
    # more than 1e-4 of their value: relative tolerances still hold.
    X, _ = tabular
    X = StandardScaler().fit_transform(X).astype(dtype)
    for kind in ("multiclass", "multilabel"):
        model = MLPClassifierFromNotes(
            hidden_layer_sizes=(3,), max_iter=5, random_state=0
        ).fit(X, class_target(X, kind, "int"))
        model.coefs_[-1][...] *= 10.0
        model.intercepts_[-1][...] = [10.0, -10.0, 0.0]
        assert model.predict_proba(X).min() < 1e-4
        onx = to_onnx(model, X, options=NO_ZIPMAP)
        assert_same_classes(onx, X, model, X, dtype)


@pytest.mark.parametrize("y_kind", ["float", "bool"])
def test_integer_valued_float_and_boolean_classes_are_int64_labels(tabular, y_kind):
    X, _ = tabular
    X = StandardScaler().fit_transform(X)
    y = class_target(X, "binary", "int") == 4
    y = y if y_kind == "bool" else np.where(y, 3.0, -2.0)
    model = MLPClassifierFromNotes(hidden_layer_sizes=(4,), max_iter=20, random_state=0)
    model.fit(X, y)
    assert_same_classes(to_onnx(model, X, options=NO_ZIPMAP), X, model, X, np.float64)


def test_non_integer_float_classes_are_refused(tabular):
    # scikit-learn's fit refuses them (a continuous target); a model whose classes
    # were set by hand predicts them, and an int64 label would truncate them.
    X, _ = tabular
    model = MLPClassifierFromNotes(hidden_layer_sizes=(3,), max_iter=3, random_state=0)
    model.fit(X, X[:, 0] > 2)
    model.classes_ = model._label_binarizer.classes_ = np.array([0.5, 1.5])
    assert set(model.predict(X)) <= {0.5, 1.5}
    with pytest.raises(ValueError, match="int64 or strings"):
        check_exportable(model)
    with pytest.raises(ValueError, match="int64 or strings"):
        to_onnx(model, X, options=NO_ZIPMAP)


@pytest.mark.parametrize("kind, labels", CLASS_TARGETS)
def test_zipmap_outputs(tabular, kind, labels):
    # skl2onnx's default classifier output: one {class: probability} per row.
    X, _ = tabular
    X = StandardScaler().fit_transform(X).astype(np.float32)
    y = class_target(X, kind, labels)
    model = MLPClassifierFromNotes(hidden_layer_sizes=(5,), max_iter=30, random_state=0)
    model.fit(X, y)
    label, dicts = run_all(skl2onnx_to_onnx(model, X[:1]), X)
    np.testing.assert_array_equal(label, model.predict(X))
    proba = model.predict_proba(X)
    assert [list(row) for row in dicts] == [list(model.classes_)] * len(X)
    got = np.array([list(row.values()) for row in dicts])
    np.testing.assert_allclose(got, proba, rtol=RTOL[np.float32])
    # 'columns': one float tensor per class.
    label, *columns = run_all(to_onnx(model, X, options={"zipmap": "columns"}), X)
    np.testing.assert_array_equal(label, model.predict(X))
    np.testing.assert_allclose(np.c_[tuple(columns)], proba, rtol=RTOL[np.float32])


def test_float64_zipmap_is_refused(tabular):
    # ONNX's ZipMap takes float32: skl2onnx's own classifiers write a graph that
    # onnxruntime cannot load; sknotes says what to pass instead.
    X, _ = tabular
    model = MLPClassifierFromNotes(hidden_layer_sizes=(3,), max_iter=3, random_state=0)
    model.fit(X, class_target(X, "binary", "str"))
    for convert in (skl2onnx_to_onnx, to_onnx):
        with pytest.raises(ValueError, match="zipmap': False"):
            convert(model, X[:1])
    columns = to_onnx(model, X, options={"zipmap": "columns"})
    assert len(run_all(columns, X)) == 3


def test_skl2onnx_label_options(tabular):
    X, _ = tabular
    X = StandardScaler().fit_transform(X)
    model = MLPClassifierFromNotes(hidden_layer_sizes=(4,), max_iter=20, random_state=0)
    model.fit(X, class_target(X, "multiclass", "str"))
    # nocl: class indices instead of the classes.
    nocl = to_onnx(model, X, options={"zipmap": False, "nocl": True})
    labels, _ = run_all(nocl, X)
    classes = list(model.classes_)
    np.testing.assert_array_equal(labels, [classes.index(c) for c in model.predict(X)])
    # output_class_labels: the classes as a third output.
    onx = to_onnx(model, X, options={"zipmap": False, "output_class_labels": True})
    labels, proba, class_labels = run_all(onx, X)
    np.testing.assert_array_equal(class_labels, model.classes_)
    np.testing.assert_array_equal(labels, model.predict(X))


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("linear_path", [False, True])
@pytest.mark.parametrize("hidden", [(), (6,)])
def test_embedding_bag_classifier_targets_and_linear_path(
    texts, kind, linear_path, hidden
):
    docs, y = texts
    P = TfidfVectorizer().fit_transform(docs)
    target = {
        "binary": y > 3,
        "multiclass": np.digitize(y, [2.5, 3.5]),
        "multilabel": np.c_[y > 3, y < 3, [len(doc) > 20 for doc in docs]],
    }[kind]
    model = EmbeddingBagClassifier(
        embedding_dim=4,
        pooling="sqrtn",
        weighting="sublinear",
        linear_path=linear_path,
        hidden_layer_sizes=hidden,
        activation="tanh",
        max_iter=15,
        random_state=0,
    ).fit(P, target.astype(int) if kind == "multilabel" else target)
    assert (model.linear_coef_ is not None) == linear_path
    onx = to_onnx(model, P, options=NO_ZIPMAP)
    assert_same_classes(onx, P.toarray(), model, P, np.float64)


@pytest.mark.parametrize("vectorizer", [CountVectorizer, TfidfVectorizer])
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_classifier_pipeline_on_raw_strings(texts, vectorizer, kind):
    docs, y = texts
    labels = np.array(["bad", "ok", "good"])[np.digitize(y, [2.5, 3.5])]
    if kind == "binary":
        labels = np.where(y > 3, "good", "not good")
    model = make_pipeline(
        vectorizer(),
        EmbeddingBagClassifier(
            embedding_dim=5,
            pooling="mean",
            linear_path=True,
            hidden_layer_sizes=(4,),
            max_iter=15,
            random_state=0,
        ),
    ).fit(docs, labels)
    strings = np.array(docs).reshape(-1, 1)
    # skl2onnx's vectorizers emit float32: the graph, and ZipMap, are float32.
    onx = to_onnx(model, docs, options=NO_ZIPMAP)
    assert_same_classes(onx, strings, model, docs, np.float32)
    label, dicts = run_all(to_onnx(model, docs), strings)
    np.testing.assert_array_equal(label, model.predict(docs))
    assert set(dicts[0]) == set(model.classes_)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("pooling", ["mean", "sum", "sqrtn"])
@pytest.mark.parametrize("hidden", [(), (6,)])
def test_embedding_bag_on_a_bag_matrix(texts, dtype, pooling, hidden):
    docs, y = texts
    vectorizer = CountVectorizer().fit(docs[4:])
    P = vectorizer.transform(docs).astype(dtype)  # sparse, row 3 all zero
    assert P[[3]].nnz == 0
    model = EmbeddingBagRegressor(
        **PLAIN,
        embedding_dim=5,
        pooling=pooling,
        hidden_layer_sizes=hidden,
        activation="tanh",
        max_iter=15,
        random_state=0,
    ).fit(P, y)
    # The ONNX input is the dense bag matrix: one column per token.
    onx = skl2onnx_to_onnx(model, P[:1].toarray())
    assert_same(onx, P.toarray(), model, P, dtype)
    assert_same(to_onnx(model, P), P.toarray(), model, P, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("pooling", ["mean", "sum", "sqrtn"])
@pytest.mark.parametrize("weighting", ["count", "binary", "sublinear"])
@pytest.mark.parametrize("idf", [False, True])
@pytest.mark.parametrize("estimator", [EmbeddingBagRegressor, EmbeddingBagClassifier])
def test_embedding_bag_weighting_and_idf(
    texts, dtype, pooling, weighting, idf, estimator
):
    docs, y = texts
    P = CountVectorizer().fit(docs[4:]).transform(docs).astype(dtype)
    # Counts above 1 in most rows: binary and sublinear differ from count.
    assert (P.max(axis=1).toarray() > 1).sum() > len(docs) // 4
    if estimator is EmbeddingBagClassifier:
        y = np.array(["bad", "ok", "good"])[np.digitize(y, [2.5, 3.5])]
    model = estimator(
        embedding_dim=5,
        pooling=pooling,
        weighting=weighting,
        idf=idf,
        hidden_layer_sizes=(4,),
        max_iter=15,
        random_state=0,
    ).fit(P, y)
    assert (model.idf_ is not None) == idf
    if estimator is EmbeddingBagClassifier:
        onx = to_onnx(model, P, options=NO_ZIPMAP)
        assert_same_classes(onx, P.toarray(), model, P, dtype)
    else:
        assert_same(to_onnx(model, P), P.toarray(), model, P, dtype)


@pytest.mark.parametrize("weighting", ["binary", "sublinear"])
def test_weighting_of_tfidf_values_in_a_pipeline(texts, weighting):
    # Values below 1: sublinear weights are negative there, as in predict.
    docs, y = texts
    model = make_pipeline(
        TfidfVectorizer(),
        EmbeddingBagRegressor(
            embedding_dim=4,
            pooling="sqrtn",
            weighting=weighting,
            idf=True,
            max_iter=10,
            random_state=0,
        ),
    ).fit(docs, y)
    strings = np.array(docs).reshape(-1, 1)
    assert_same(to_onnx(model, docs), strings, model, docs, np.float32)


def test_embedding_bag_poisson_multi_output(texts):
    docs, y = texts
    P = TfidfVectorizer().fit_transform(docs)
    model = EmbeddingBagRegressor(
        **MEAN, embedding_dim=4, loss="poisson", max_iter=10, random_state=0
    ).fit(P, np.c_[y, y / 2])
    assert_same(to_onnx(model, P), P.toarray(), model, P, np.float64)


@pytest.mark.parametrize("embedding_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("vectorizer", [CountVectorizer, TfidfVectorizer])
@pytest.mark.parametrize("pooling", ["mean", "sum"])
def test_pipeline_on_raw_strings(texts, vectorizer, pooling, embedding_dtype):
    docs, y = texts
    model = make_pipeline(
        vectorizer(),
        EmbeddingBagRegressor(
            **PLAIN,
            embedding_dim=5,
            pooling=pooling,
            hidden_layer_sizes=(4,),
            dtype=embedding_dtype,
            max_iter=15,
            random_state=0,
        ),
    ).fit(docs, y)
    strings = np.array(docs).reshape(-1, 1)
    # skl2onnx's own to_onnx, with the options sknotes.onnx.to_onnx would pass.
    onx = skl2onnx_to_onnx(model, strings[:1], options=vectorizer_options(model))
    # skl2onnx's vectorizers emit float32 tensors: the graph is float32 after them.
    assert_same(onx, strings, model, docs, np.float32)
    assert_same(to_onnx(model, docs), strings, model, docs, np.float32)


def test_pipeline_options_reach_every_vectorizer(texts):
    docs, y = texts
    model = make_pipeline(
        CountVectorizer(ngram_range=(1, 2), lowercase=False),
        EmbeddingBagRegressor(**MEAN, embedding_dim=3, max_iter=5, random_state=0),
    ).fit(docs, y)
    # Non-ASCII tokens and capitals: the Unicode pattern keeps "café" whole.
    new = np.array(["Café été good", "NAÏVE café", "naïve café good food"])
    onx = convert_sklearn(
        model,
        initial_types=[("text", StringTensorType([None, 1]))],
        options=vectorizer_options(model),
    )
    assert_same(onx, new.reshape(-1, 1), model, new, np.float32)
    (options,) = vectorizer_options(model).values()
    assert options == {"locale": "C.UTF-8", "tokenexp": r"[\pL\pN_]{2,}"}
    custom = CountVectorizer(token_pattern=r"\w+").fit(docs)
    assert vectorizer_options(custom) == {id(custom): {"locale": "C.UTF-8"}}


def test_lower_target_opset(tabular, texts):
    docs, y = texts
    P = CountVectorizer().fit_transform(docs)
    model = EmbeddingBagRegressor(
        **MEAN, embedding_dim=3, max_iter=5, random_state=0
    ).fit(P, y)
    onx = to_onnx(model, P, target_opset=13)
    assert max(o.version for o in onx.opset_import if o.domain == "") == 13
    assert_same(onx, P.toarray(), model, P, np.float64)
    X, _ = tabular
    X = StandardScaler().fit_transform(X)
    for kind in ("binary", "multiclass", "multilabel"):
        classifier = MLPClassifierFromNotes(
            hidden_layer_sizes=(4,), max_iter=10, random_state=0
        ).fit(X, class_target(X, kind, "str"))
        onx = to_onnx(classifier, X, options=NO_ZIPMAP, target_opset=13)
        assert max(o.version for o in onx.opset_import if o.domain == "") == 13
        assert_same_classes(onx, X, classifier, X, np.float64)


@pytest.mark.parametrize("form", ["token lists", "raw strings"])
@pytest.mark.parametrize("estimator", [EmbeddingBagRegressor, EmbeddingBagClassifier])
def test_vocabulary_models_are_refused(texts, form, estimator):
    docs, y = texts
    X = [doc.split() for doc in docs] if form == "token lists" else docs
    if estimator is EmbeddingBagClassifier:
        y = y > 3
    model = estimator(**MEAN, embedding_dim=3, max_iter=3, random_state=0).fit(X, y)
    message = f"{estimator.__name__} fitted on a bag matrix.*Pipeline"
    with pytest.raises(ValueError, match=message):
        check_exportable(model)
    with pytest.raises(ValueError, match=message):
        to_onnx(model, X)
    # Through skl2onnx itself, as far as its input guessing lets a model go.
    with pytest.raises(ValueError, match=message):
        convert_sklearn(model, initial_types=[("text", StringTensorType([None, 1]))])
    with pytest.raises(ValueError, match=message):
        to_onnx(make_pipeline(StandardScaler(with_mean=False), model), X)


def test_unfitted_models_are_refused():
    from sklearn.exceptions import NotFittedError

    for model in (
        MLPRegressorFromNotes(),
        EmbeddingBagRegressor(**MEAN),
        MLPClassifierFromNotes(),
        EmbeddingBagClassifier(),
    ):
        with pytest.raises(NotFittedError):
            to_onnx(make_pipeline(StandardScaler(), model), np.ones((2, 3)))


def test_sublinear_tf_is_refused(texts):
    docs, y = texts
    model = make_pipeline(
        TfidfVectorizer(sublinear_tf=True),
        EmbeddingBagRegressor(**MEAN, embedding_dim=3, max_iter=3, random_state=0),
    ).fit(docs, y)
    with pytest.raises(ValueError, match="sublinear_tf"):
        to_onnx(model, docs)


def test_the_graph_is_built_from_the_public_attributes(tabular):
    X, Y = tabular
    X = StandardScaler().fit_transform(X)
    model = MLPRegressorFromNotes(
        hidden_layer_sizes=(5,), max_iter=10, random_state=0
    ).fit(X, Y[:, 0])
    model.intercepts_[-1][...] += 10.0  # live: predict sees the edit, so must ONNX
    assert_same(to_onnx(model, X), X, model, X, np.float64)


@pytest.fixture
def bag_model(texts):
    docs, y = texts
    P = CountVectorizer().fit_transform(docs)
    return EmbeddingBagRegressor(embedding_dim=3, max_iter=3, random_state=0).fit(P, y)


@pytest.mark.parametrize("attribute", ["path_coef_", "_y_shift"])
def test_unknown_fitted_state_is_refused(bag_model, tabular, attribute):
    # A fitted part the converter does not know (a linear path's coefficients, a
    # target's shift, ...) would be left out of the graph.
    X, Y = tabular
    mlp = MLPRegressorFromNotes(max_iter=3, random_state=0).fit(X, Y[:, 0])
    for model in (bag_model, mlp):
        to_onnx(model, X if model is mlp else np.ones((1, model.n_features_in_)))
        setattr(model, attribute, np.ones(1))
        with pytest.raises(ValueError, match=f"has {attribute}, which sknotes.onnx"):
            check_exportable(model)
        with pytest.raises(ValueError, match=attribute):
            skl2onnx_to_onnx(model, np.ones((1, model.n_features_in_)))


def test_unknown_parameter_is_refused(texts):
    class WithLinearPath(EmbeddingBagRegressor):
        @classmethod
        def _get_param_names(cls):
            return sorted([*super()._get_param_names(), "linear"])

    docs, y = texts
    P = CountVectorizer().fit_transform(docs)
    model = WithLinearPath(embedding_dim=3, max_iter=3, random_state=0)
    model.linear = True
    model.fit(P, y)
    assert "linear" in model.get_params()
    with pytest.raises(ValueError, match="has linear, which"):
        to_onnx(model, P)


@pytest.mark.parametrize(
    "param, value", [("pooling", "max"), ("weighting", "log"), ("activation", "gelu")]
)
def test_unknown_parameter_value_is_refused(bag_model, param, value):
    setattr(bag_model, param, value)
    with pytest.raises(ValueError, match=f"No ONNX conversion for .*{value}"):
        check_exportable(bag_model)


def test_callbacks_do_not_block_export(texts):
    # scikit-learn's callback state on the estimator is not a fitted part.
    callback = pytest.importorskip("sklearn.callback")
    docs, y = texts
    P = CountVectorizer().fit_transform(docs)
    model = EmbeddingBagRegressor(embedding_dim=3, max_iter=3, random_state=0)
    model.set_callbacks(callback.ScoringMonitor(scoring="r2"))
    model.fit(P, y)
    assert any(key.startswith("_skl_") for key in vars(model))
    assert_same(to_onnx(model, P), P.toarray(), model, P, np.float64)


# Pinned by mutation testing (benchmarks/mutation.py onnx).


def _opset(onx):
    return max(o.version for o in onx.opset_import if o.domain == "")


@pytest.mark.parametrize(
    "loss, opset", [("squared_error", 9), ("poisson", 9)], ids=["mse", "poisson"]
)
def test_mlp_regressor_exports_at_an_old_target_opset(tabular, loss, opset):
    # Every node at the version the target allows (Gemm's newest is 13).
    X, y = tabular
    X = StandardScaler().fit_transform(X)
    model = MLPRegressorFromNotes(
        hidden_layer_sizes=(4,), loss=loss, max_iter=10, random_state=0
    ).fit(X, y[:, 0])
    onx = to_onnx(model, X, target_opset=opset)
    assert _opset(onx) == opset
    assert_same(onx, X, model, X, np.float64)


@pytest.mark.parametrize("kind", ["binary", "two labels"])
def test_mlp_classifier_exports_at_target_opset_12(tabular, kind):
    X, _ = tabular
    X = StandardScaler().fit_transform(X)
    y = class_target(X, "multilabel" if kind == "two labels" else kind, "str")
    if kind == "two labels":  # the indicator matrix, not a binary column
        y = y[:, :2]
    classifier = MLPClassifierFromNotes(
        hidden_layer_sizes=(4,), max_iter=10, random_state=0
    ).fit(X, y)
    onx = to_onnx(classifier, X, options=NO_ZIPMAP, target_opset=12)
    assert _opset(onx) == 12
    assert_same_classes(onx, X, classifier, X, np.float64)


def test_sublinear_embedding_bag_exports_at_target_opset_11(texts):
    docs, y = texts
    P = CountVectorizer().fit_transform(docs)
    model = EmbeddingBagRegressor(
        weighting="sublinear", idf=False, pooling="mean", embedding_dim=3,
        max_iter=5, random_state=0,
    ).fit(P, y)  # fmt: skip
    onx = to_onnx(model, P, target_opset=11)
    assert _opset(onx) == 11
    assert_same(onx, P.toarray(), model, P, np.float64)


def test_a_dataframe_exports_with_one_input_per_column(tabular):
    pd = pytest.importorskip("pandas")
    from sklearn.compose import ColumnTransformer

    X, y = tabular
    frame = pd.DataFrame(X, columns=list("abcde"))
    model = make_pipeline(
        ColumnTransformer([("scale", StandardScaler(), list("abcde"))]),
        MLPRegressorFromNotes(hidden_layer_sizes=(3,), max_iter=5, random_state=0),
    ).fit(frame, y[:, 0])
    onx = to_onnx(model, frame)
    assert [i.name for i in onx.graph.input] == list("abcde")
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (got,) = session.run(None, {c: X[:, [i]] for i, c in enumerate("abcde")})
    np.testing.assert_allclose(got.ravel(), model.predict(frame), rtol=1e-6)
