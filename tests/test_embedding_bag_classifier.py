"""EmbeddingBagClassifier: the embedding bag trained through the fused log-loss node."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logit

from sknotes import EmbeddingBagClassifier, MLPClassifierFromNotes
from sknotes.nodes import SigmoidBinaryCrossEntropy, SoftmaxCrossEntropy
from tests.gradients import check_whole_model_gradient

pytestmark = pytest.mark.usefixtures("quiet_convergence")


def _corpus(n_docs=900, n_tokens=60, n_classes=3, seed=0):
    """Each token leans towards one class; a document's class is its tokens' vote."""
    rng = np.random.default_rng(seed)
    leaning = rng.integers(0, n_classes, n_tokens)
    docs = [
        [f"t{j}" for j in rng.integers(0, n_tokens, size=rng.integers(2, 10))]
        for _ in range(n_docs)
    ]
    votes = np.array(
        [
            np.bincount(leaning[[int(t[1:]) for t in d]], minlength=n_classes)
            for d in docs
        ]
    )
    labels = np.array(["neg", "neu", "pos"][:n_classes])
    return docs, labels[(votes + 0.1 * rng.random(votes.shape)).argmax(axis=1)]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_it_learns_the_synthetic_task(n_classes):
    docs, y = _corpus(n_classes=n_classes)
    clf = EmbeddingBagClassifier(embedding_dim=8, max_iter=30, random_state=0)
    clf.fit(docs[:700], y[:700])
    np.testing.assert_array_equal(clf.classes_, np.unique(y))
    assert clf.score(docs[700:], y[700:]) > 0.8
    proba = clf.predict_proba(docs[700:])
    assert proba.shape == (200, n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(
        clf.predict(docs[700:]), clf.classes_[proba.argmax(axis=1)]
    )
    assert clf.out_activation_ == ("logistic" if n_classes == 2 else "softmax")


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("hidden", [(), (4,)])
def test_whole_model_gradient_through_the_fused_loss(n_classes, hidden):
    docs, y = _corpus(n_docs=40, n_tokens=8, n_classes=n_classes, seed=1)
    clf = EmbeddingBagClassifier(
        embedding_dim=3,
        hidden_layer_sizes=hidden,
        activation="tanh",
        max_iter=1,
        random_state=0,
    ).fit(docs, y)
    assert len(clf.classes_) == n_classes
    Y = clf._label_binarizer.transform(y).astype(float)
    node = SoftmaxCrossEntropy() if n_classes > 2 else SigmoidBinaryCrossEntropy()
    assert type(clf._loss_node()) is type(node)
    check_whole_model_gradient(clf, docs, Y, node)


def test_token_attributions_are_the_derivative_of_the_chosen_logit():
    docs, y = _corpus(n_docs=200, n_tokens=20, n_classes=3)
    # A bag matrix with sum pooling: attributions are ∂logit/∂X[i, j].
    X = sp.csr_array(
        np.stack(
            [np.bincount([int(t[1:]) for t in d], minlength=20) for d in docs]
        ).astype(float)
    )
    clf = EmbeddingBagClassifier(
        embedding_dim=4,
        pooling="sum",
        hidden_layer_sizes=(5,),
        max_iter=5,
        random_state=0,
    ).fit(X, y)
    row = X[[0]].toarray()
    log_proba = clf.predict_log_proba
    for k, class_ in enumerate(clf.classes_):
        (attributions,) = clf.token_attributions(sp.csr_array(row), class_=class_)
        for column, value in attributions:
            step = np.zeros_like(row)
            step[0, column] = 1e-6

            # log p_k − mean_j log p_j = s_k − mean_j s_j: the shift cancels.
            def centred(x, k=k):
                lp = log_proba(sp.csr_array(x))[0]
                return lp[k] - lp.mean()

            numeric = (centred(row + step) - centred(row - step)) / 2e-6
            mean_of_all = np.mean(
                [
                    dict(clf.token_attributions(sp.csr_array(row), class_=c)[0])[column]
                    for c in clf.classes_
                ]
            )
            np.testing.assert_allclose(
                value - mean_of_all, numeric, rtol=1e-5, atol=1e-8
            )


def test_binary_attributions_are_the_log_odds_derivative_and_its_negative():
    docs, y = _corpus(n_docs=200, n_tokens=20, n_classes=2)
    clf = EmbeddingBagClassifier(embedding_dim=4, max_iter=5, random_state=0)
    clf.fit(docs, y)
    positive = clf.token_attributions(docs[:3])
    assert positive == clf.token_attributions(docs[:3], class_=clf.classes_[1])
    negative = clf.token_attributions(docs[:3], class_=clf.classes_[0])
    for pos_doc, neg_doc in zip(positive, negative, strict=True):
        assert [t for t, _ in pos_doc] == [t for t, _ in neg_doc]
        np.testing.assert_allclose([v for _, v in pos_doc], [-v for _, v in neg_doc])
    # The logit is the log-odds of classes_[1].
    s = clf._predict_raw(docs[:3])[:, 0]
    np.testing.assert_allclose(s, logit(clf.predict_proba(docs[:3])[:, 1]), rtol=1e-6)
    with pytest.raises(ValueError, match="class_ must be one of"):
        clf.token_attributions(docs[:1], class_="nope")


def test_class_is_required_with_several_classes():
    docs, y = _corpus(n_docs=100)
    clf = EmbeddingBagClassifier(max_iter=2, random_state=0).fit(docs, y)
    with pytest.raises(ValueError, match="class_ is required"):
        clf.token_attributions(docs[:1])


def test_partial_fit_needs_classes_and_streams_over_chunks():
    docs, y = _corpus()
    # Streaming is what is tested: a learning rate that learns in 15 passes.
    clf = EmbeddingBagClassifier(
        embedding_dim=8, n_buckets=256, learning_rate_init=0.01, random_state=0
    )
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(docs[:100], y[:100])
    assert not hasattr(clf, "classes_")
    for _ in range(15):
        for start in range(0, 700, 100):
            chunk = slice(start, start + 100)
            clf.partial_fit(docs[chunk], y[chunk], classes=np.unique(y))
    assert clf.score(docs[700:], y[700:]) > 0.7
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(docs[:5], ["other"] * 5)


def test_multilabel_indicator_targets():
    docs, y = _corpus(n_docs=300)
    Y = np.stack([y == "pos", y != "neg"], axis=1).astype(int)
    clf = EmbeddingBagClassifier(embedding_dim=8, max_iter=60, random_state=0)
    clf.fit(docs, Y)
    proba = clf.predict_proba(docs)
    assert proba.shape == (300, 2) and clf.out_activation_ == "logistic"
    np.testing.assert_array_equal(clf.predict(docs), (proba > 0.5).astype(int))
    assert (clf.predict(docs) == Y).mean() > 0.8


def test_raw_strings_transform_and_pickle():
    docs, y = _corpus(n_docs=200)
    texts = [" ".join(d) for d in docs]
    clf = EmbeddingBagClassifier(
        embedding_dim=4, ngram_range=(1, 2), max_iter=3, random_state=0
    ).fit(texts, y)
    assert clf.transform(texts[:5]).shape == (5, 4)
    assert list(clf.get_feature_names_out())[0] == "embeddingbagclassifier0"
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(texts), clf.predict_proba(texts))


def test_linear_model_on_a_bag_matrix_matches_the_mlp_classifier():
    """With a frozen identity table and no hidden layer, the embedding bag is the
    MLP classifier without hidden layers on the same bag matrix: same loss, same
    gradients, so Adam's steps coincide."""
    docs, y = _corpus(n_docs=120, n_tokens=6)
    X = np.stack(
        [np.bincount([int(t[1:]) for t in d], minlength=6) for d in docs]
    ).astype(float)
    clf = EmbeddingBagClassifier(
        embedding_dim=6,
        pooling="sum",
        weighting="count",
        hidden_layer_sizes=(),
        linear_path=False,
        alpha_embedding=0.0,
        early_stopping=False,
        max_iter=1,
        random_state=0,
        freeze_embeddings=True,
        warm_start=True,
        shuffle=False,
    ).fit(X, y)
    clf.embeddings_[...] = np.eye(6)
    mlp = MLPClassifierFromNotes(
        hidden_layer_sizes=(),
        max_iter=1,
        random_state=0,
        warm_start=True,
        shuffle=False,
        learning_rate_init=clf.learning_rate_init,
    ).fit(X, y)
    mlp.coefs_[0][...] = clf.coefs_[0]
    mlp.intercepts_[0][...] = clf.intercepts_[0]
    # Fresh optimizers from here on, for both.
    clf.set_params(beta_1=0.8).fit(X, y)
    mlp.set_params(beta_1=0.8).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), mlp.predict_proba(X), rtol=1e-10)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_linear_start_is_scikit_learns_logistic_regression(monkeypatch, n_classes):
    """Solved to convergence, the linear path's start is LogisticRegression on Π
    with C = 1/alpha_linear (the start's iterations and tolerance are capped only
    for speed)."""
    from sklearn.linear_model import LogisticRegression

    import sknotes._embedding_bag_classifier as module

    monkeypatch.setattr(module, "LINEAR_START_ITERATIONS", 5000)
    monkeypatch.setattr(module, "LINEAR_START_GTOL", 1e-7)
    docs, y = _corpus(n_docs=200, n_tokens=12, n_classes=n_classes)
    X = np.stack(
        [np.bincount([int(t[1:]) for t in d], minlength=12) for d in docs]
    ).astype(float)
    clf = EmbeddingBagClassifier(
        pooling="sum", alpha_linear=0.5, early_stopping=False, max_iter=1
    )
    # The output node the fit would choose, without a fit.
    clf.out_activation_ = "softmax" if n_classes > 2 else "logistic"
    Y = (
        (y[:, None] == np.unique(y)).astype(float)
        if n_classes > 2
        else (y == np.unique(y)[1]).astype(float)[:, None]
    )
    w, b = clf._linear_solution(sp.csr_array(X), Y, np.ones(len(y)), 0.5)
    reference = LogisticRegression(C=1 / 0.5, tol=1e-10, max_iter=10_000).fit(X, y)
    # The same objective, Σᵢ log-loss + α/2·‖w‖² (LogisticRegression's, C = 1/α),
    # at both solutions: equal minima, and equal models.
    if n_classes == 2:
        P_ours = 1 / (1 + np.exp(-(X @ w + b)))
        P_ours = np.hstack([1 - P_ours, P_ours])
        coef = reference.coef_.T
    else:
        S = X @ w + b
        P_ours = np.exp(S - S.max(axis=1, keepdims=True))
        P_ours /= P_ours.sum(axis=1, keepdims=True)
        # Softmax logits are defined up to a shift shared by the classes.
        w = w - w.mean(axis=1, keepdims=True)
        coef = reference.coef_.T

    def objective(P, coef):
        rows = np.searchsorted(np.unique(y), y)
        return -np.log(P[np.arange(len(y)), rows]).sum() + 0.25 * np.sum(coef**2)

    P_ref = reference.predict_proba(X)
    np.testing.assert_allclose(objective(P_ours, w), objective(P_ref, coef), rtol=1e-6)
    # The minimiser to L-BFGS's default gradient tolerance (gtol 1e-5).
    np.testing.assert_allclose(P_ours, P_ref, atol=1e-3)


def test_fit_starts_from_the_linear_model_and_scores_by_log_loss():
    from sklearn.metrics import log_loss

    docs, y = _corpus(n_docs=400, n_tokens=30)
    clf = EmbeddingBagClassifier(embedding_dim=4, max_iter=3, random_state=0)
    clf.fit(docs, y)
    assert clf.alpha_linear_ in module_alphas()
    # Early stopping's scores are minus the validation log-loss.
    assert all(score < 0 for score in clf.validation_scores_)
    np.testing.assert_allclose(
        -clf.validation_scores_[-1], clf.validation_loss_curve_[-1], rtol=1e-12
    )
    # Before any epoch the model is the linear one: its training log-loss is
    # below the uniform guess's.
    start = EmbeddingBagClassifier(
        embedding_dim=4, max_iter=1, learning_rate_init=1e-12, random_state=0
    ).fit(docs, y)
    assert log_loss(y, start.predict_proba(docs)) < np.log(3) - 0.1


def module_alphas():
    return set(EmbeddingBagClassifier._LINEAR_ALPHAS.tolist())


def test_default_features_are_the_regressors_auto_ones():
    """Raw strings get word bigrams and the hashed char_wb block by default;
    the same words as token lists get neither (the regressor's 'auto')."""
    texts = ["good food here", "bad service here", "good service", "bad food"] * 10
    y = ["yes", "no", "yes", "no"] * 10
    params = dict(embedding_dim=4, max_iter=2, n_char_buckets=64, random_state=0)
    strings = EmbeddingBagClassifier(**params).fit(texts, y)
    tokens = EmbeddingBagClassifier(**params).fit([t.split() for t in texts], y)
    assert "good food" in strings.vocabulary_
    assert strings.embeddings_.shape[0] >= len(strings.vocabulary_) + 64
    assert not any(" " in term for term in tokens.vocabulary_)
    assert tokens.embeddings_.shape[0] < 64


def test_alpha_search_is_an_honest_cross_validation():
    """'auto' picks the alpha that 3-fold cross-validation with each solve
    started from zero picks: the search's warm starts, fold by fold, only save
    iterations (starting a fold from another fold's solution, which had seen
    its held-out rows, chose the grid's weakest penalty on food reviews)."""
    from sklearn.metrics import log_loss

    docs, y = _corpus(n_docs=300, n_tokens=40, n_classes=2, seed=1)
    X = np.stack(
        [np.bincount([int(t[1:]) for t in d], minlength=40) for d in docs]
    ).astype(float)
    clf = EmbeddingBagClassifier(
        pooling="sum", early_stopping=False, max_iter=1, random_state=0
    ).fit(X, y)
    Y = (y == clf.classes_[1]).astype(float)[:, None]
    folds = np.arange(len(y)) % 3
    scores = {}
    for alpha in EmbeddingBagClassifier._LINEAR_ALPHAS:
        losses = []
        for fold in range(3):
            fit = folds != fold
            cold = EmbeddingBagClassifier(pooling="sum")
            cold.out_activation_ = "logistic"
            w, b = cold._linear_solution(
                sp.csr_array(X[fit]), Y[fit], np.ones(fit.sum()), alpha
            )
            p = 1 / (1 + np.exp(-(X[~fit] @ w + b)))
            losses.append(log_loss(Y[~fit, 0], p[:, 0], labels=[0, 1]))
        scores[alpha] = np.mean(losses)
    assert clf.alpha_linear_ == min(scores, key=scores.get)
    # Not a trivial choice: the grid's ends score worse.
    assert clf.alpha_linear_ not in (min(scores), max(scores))


def _counts(docs, n_tokens):
    return np.stack(
        [np.bincount([int(t[1:]) for t in d], minlength=n_tokens) for d in docs]
    ).astype(float)


def test_linear_start_weights_rows_as_repeats():
    docs, y = _corpus(n_docs=60, n_tokens=8, n_classes=2, seed=2)
    X = _counts(docs, 8)
    Y = (y == "pos").astype(float)[:, None]
    weight = np.arange(60) % 3  # 0, 1 or 2 copies of each row
    rows = np.repeat(np.arange(60), weight)
    clf = EmbeddingBagClassifier(pooling="sum")
    clf.out_activation_ = "logistic"
    w, b = clf._linear_solution(sp.csr_array(X), Y, weight.astype(float), 0.5)
    clf.__dict__.pop("_linear_warm_starts", None)
    w_rep, b_rep = clf._linear_solution(
        sp.csr_array(X[rows]), Y[rows], np.ones(len(rows)), 0.5
    )
    np.testing.assert_allclose(w, w_rep, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(b, b_rep, rtol=1e-6, atol=1e-9)
    # Weights summing to 0 define no solution.
    assert clf._linear_solution(sp.csr_array(X), Y, np.zeros(60), 0.5) is None


def test_validation_score_is_minus_the_weighted_log_loss():
    from sklearn.metrics import log_loss

    docs, y = _corpus(n_docs=60, n_tokens=8)
    clf = EmbeddingBagClassifier(embedding_dim=2, max_iter=1, random_state=0)
    clf.fit(docs, y)
    S = np.random.default_rng(0).standard_normal((60, 3))
    Y = (y[:, None] == clf.classes_).astype(float)
    weight = np.arange(60) % 4 + 0.5
    P = np.exp(S) / np.exp(S).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(
        clf._validation_scorer(Y, S, weight),
        -log_loss(y, P, sample_weight=weight, labels=clf.classes_),
        rtol=1e-10,
    )


def test_a_fit_that_runs_its_epochs_warns_of_nothing_else():
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    docs, y = _corpus(n_docs=200, n_tokens=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # max_iter=2 stops before convergence: that warning is expected.
        warnings.simplefilter("ignore", ConvergenceWarning)
        EmbeddingBagClassifier(embedding_dim=2, max_iter=2, random_state=0).fit(docs, y)


def test_fit_is_silent_by_default(capsys):
    docs, y = _corpus(n_docs=60, n_tokens=8)
    EmbeddingBagClassifier(embedding_dim=2, max_iter=2, random_state=0).fit(docs, y)
    assert capsys.readouterr().out == ""


# Pinned by mutation testing (benchmarks/mutation.py _embedding_bag_classifier).


def test_each_fold_of_the_alpha_search_starts_from_its_own_last_solution(
    monkeypatch,
):
    import sknotes._embedding_bag_classifier as module

    solves = []

    def recording(fun, x0, **kwargs):
        result = minimize(fun, np.array(x0, copy=True), **kwargs)
        solves.append((np.array(x0, copy=True), result.x.copy()))
        return result

    minimize = module.minimize
    monkeypatch.setattr(module, "minimize", recording)
    docs, y = _corpus(n_docs=300, n_tokens=40, n_classes=2, seed=1)
    clf = EmbeddingBagClassifier(
        pooling="sum", early_stopping=False, max_iter=1, random_state=0
    ).fit(_counts(docs, 40), y)
    *search, final = solves
    assert len(search) % 3 == 0 and len(search) >= 6
    # Three folds per alpha, in order: the first alpha's solves start from zero,
    # each later one from the same fold's solution at the previous alpha.
    for i, (start, _) in enumerate(search):
        expected = np.zeros_like(start) if i < 3 else search[i - 3][1]
        np.testing.assert_array_equal(start, expected)
    chosen = list(EmbeddingBagClassifier._LINEAR_ALPHAS).index(clf.alpha_linear_)
    np.testing.assert_array_equal(final[0], search[3 * chosen + 2][1])


def test_linear_start_of_rows_weighing_nothing_is_none():
    docs, y = _corpus(n_docs=30, n_tokens=6, n_classes=2)
    clf = EmbeddingBagClassifier(pooling="sum")
    clf.out_activation_ = "logistic"
    Y = (y == np.unique(y)[1]).astype(float)[:, None]
    X = sp.csr_array(_counts(docs, 6))
    assert clf._linear_solution(X, Y, np.zeros(len(y)), 0.5) is None


def test_float32_classifier_predicts_float32_probabilities():
    docs, y = _corpus(n_docs=40, n_tokens=6)
    clf = EmbeddingBagClassifier(
        embedding_dim=2, max_iter=2, random_state=0, dtype=np.float32
    ).fit(docs, y)
    assert clf.predict_proba(docs).dtype == np.float32


def test_binary_attributions_of_the_second_class_are_the_log_odds_derivative():
    docs, y = _corpus(n_docs=200, n_tokens=20, n_classes=2)
    X = sp.csr_array(_counts(docs, 20))
    clf = EmbeddingBagClassifier(
        embedding_dim=4, pooling="sum", max_iter=5, random_state=0
    ).fit(X, y)
    row = X[[0]].toarray()
    (attributions,) = clf.token_attributions(sp.csr_array(row), class_=clf.classes_[1])
    for column, value in attributions:
        step = np.zeros_like(row)
        step[0, column] = 1e-6
        odds = [
            logit(clf.predict_proba(sp.csr_array(x))[0, 1])
            for x in (row + step, row - step)
        ]
        np.testing.assert_allclose(value, (odds[0] - odds[1]) / 2e-6, rtol=1e-5)
