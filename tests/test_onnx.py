"""ONNX export: onnxruntime equals `predict` (float64 1e-6, float32 1e-4 relative)."""

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
from sknotes import EmbeddingBagRegressor, MLPRegressorFromNotes  # noqa: E402
from sknotes.onnx import check_exportable, to_onnx, vectorizer_options  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RTOL = {np.float64: 1e-6, np.float32: 1e-4}
WORDS = "good food bad service great awful ok slow fast cheap café été naïve".split()

# What ONNX exports: the weights of Π as the bag matrix gives them.
PLAIN = {"weighting": "count", "idf": False}
MEAN = {**PLAIN, "pooling": "mean"}


def run(onx, X):
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (name,) = [i.name for i in session.get_inputs()]
    (y,) = session.run(None, {name: X})
    return y


def assert_same(onx, X_onnx, model, X, dtype):
    expected = model.predict(X)
    got = run(onx, X_onnx)
    assert got.dtype == dtype
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=RTOL[dtype])


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
def test_embedding_bag_weighting_and_idf(texts, dtype, pooling, weighting, idf):
    docs, y = texts
    P = CountVectorizer().fit(docs[4:]).transform(docs).astype(dtype)
    # Counts above 1 in most rows: binary and sublinear differ from count.
    assert (P.max(axis=1).toarray() > 1).sum() > len(docs) // 4
    model = EmbeddingBagRegressor(
        embedding_dim=5,
        pooling=pooling,
        weighting=weighting,
        idf=idf,
        hidden_layer_sizes=(4,),
        max_iter=15,
        random_state=0,
    ).fit(P, y)
    assert (model.idf_ is not None) == idf
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


@pytest.mark.parametrize("form", ["token lists", "raw strings"])
def test_vocabulary_models_are_refused(texts, form):
    docs, y = texts
    X = [doc.split() for doc in docs] if form == "token lists" else docs
    model = EmbeddingBagRegressor(
        **MEAN, embedding_dim=3, max_iter=3, random_state=0
    ).fit(X, y)
    message = "bag matrix.*Pipeline"
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

    for model in (MLPRegressorFromNotes(), EmbeddingBagRegressor(**MEAN)):
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
