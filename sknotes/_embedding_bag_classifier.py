"""EmbeddingBagClassifier: the embedding bag with a sigmoid or softmax output."""

import numpy as np
from scipy.optimize import minimize
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from sknotes._base import BaseNotesClassifier, has_partial_fit
from sknotes._compat import _fit_context, with_callbacks
from sknotes._embedding_bag import ALPHA_EMBEDDING, EmbeddingBagRegressor
from sknotes._mlp import _store_params
from sknotes._text import TOKEN_PATTERN

__all__ = ["EmbeddingBagClassifier"]

# L-BFGS iterations of the linear path's start.
LINEAR_START_ITERATIONS = 100
# Its gradient tolerance: LogisticRegression's default ``tol`` (the loss is a
# mean, as there).
LINEAR_START_GTOL = 1e-4
# 'auto' grid of alpha_linear (1/C): decades, reaching C = 10⁴, as the
# log-loss's best alpha on sqrtn-normalised rows was at the half-decade
# grid's smallest (1e-2) on food reviews and course titles.
LINEAR_ALPHAS = 10.0 ** np.arange(1.0, -3.5, -1.0)


class EmbeddingBagClassifier(BaseNotesClassifier, EmbeddingBagRegressor):
    """Classification of text: ``Π·Table`` → pooling → optional MLP head → logits.

    :class:`EmbeddingBagRegressor`'s inputs (token lists, raw strings, bag
    matrices), pooling, vocabulary, hashing, n-grams and subwords, with
    :class:`MLPClassifierFromNotes`'s output: the network ends at the logits ``S``
    and trains with :class:`~sknotes.nodes.SigmoidBinaryCrossEntropy` (two classes,
    or one column per label for multilabel ``y``) or
    :class:`~sknotes.nodes.SoftmaxCrossEntropy` (several classes), whose backward is
    ``grad_S = (P − Y)·w/n``.  The parameters are the regressor's, without
    ``loss``; see :class:`EmbeddingBagRegressor` for their meaning.

    The model is ``S = head(pool(Π·Table)) + Π·w + b``.  The linear path
    ``(w, b)`` starts at the logistic regression on ``Π`` (``C = 1/alpha_linear``):
    L-BFGS on the notes' linear node into the fused loss node, to
    ``LogisticRegression``'s tolerance, with ``alpha_linear='auto'`` chosen by
    3-fold cross-validated log-loss on the training rows from
    ``10**[1, 0, …, -3]``; the head's last layer starts at zero, so the model
    starts as that linear model and early stopping, which scores it as epoch 0,
    keeps the embedding path's epochs only while they improve on it.

    Defaults, and why (``benchmarks/bench_text_classification.py``: four real
    sets, 5-fold stratified, beside TF-IDF + ``LogisticRegressionCV`` on word,
    char_wb and both n-grams; results in
    ``benchmarks/results/text_classification.txt``).  With them the accuracy
    is 0.98–0.99 × the best tuned baseline's on each set (food reviews 0.786
    against 0.801, tweets 0.780 against 0.787, pet names 0.674 against 0.681,
    course titles 0.807 against 0.815), with log-loss within 0.02–0.05 of it;
    fits are slower than the baseline's:

    - ``ngram_range='auto'`` and ``char_wb_ngram_range='auto'`` (the regressor's:
      word bigrams and a hashed char_wb (2, 5) block for raw strings, neither
      for tokens or bag matrices): the features the tuned baselines win with.
      Tweets → posting app is decided by characters (TF-IDF char n-grams 0.785,
      words 0.739), and on food reviews the linear start alone gained 0.768 →
      0.780 accuracy (one fold) from the char block; fits take longer (a
      short text has several times more character n-grams than words);
    - ``early_stopping=True``, scored by the validation log-loss (not accuracy as
      in :class:`MLPClassifierFromNotes`; ``validation_scores_`` and
      ``best_validation_score_`` are minus the log-loss): a table memorises its
      documents within a few epochs, and accuracy on a few dozen held-out
      documents stays flat while the logits move, which stopped training after
      ten epochs, before it had learned (a multilabel test task: 0.68 by
      accuracy, 0.93 by log-loss);
    - ``linear_path=True`` with the logistic start: the model contains the
      linear model it starts from (a synthetic 3-class task: 0.80 test accuracy
      without the start, 0.86 with it; UCLA course titles → subject, 5-fold,
      without the start: 0.771 against 0.819 for tuned TF-IDF + logistic
      regression);
    - ``n_iter_no_change=5`` (the regressor's is 10): the best epoch came
      within the first few on every set, and 5 chose the same epochs as 10 on
      pet names and course titles (2 folds each: the same accuracy and
      log-loss) in 40–60 % of the fit time;
    - ``pooling='sqrtn'``, ``hidden_layer_sizes=(64,)``,
      ``learning_rate_init=3e-3``, ``alpha_embedding=1e-4``: the regressor's
      measured defaults, not measured against alternatives here (on the four
      sets the embedding path's epochs change the linear start's accuracy by
      less than a point either way);
    - ``weighting='count'`` (the regressor has 'sublinear'): on a numeric bag
      matrix ``1 + ln(x)`` of values below 1 flips their sign, which with
      normalised pooling lost scikit-learn's own 3-blob check (0.82 < 0.83
      accuracy; 0.93 with counts); on short texts a term rarely repeats, so
      the two weigh the same (not measured on the long food reviews).

    Parameters
    ----------
    pooling : {'mean', 'sum', 'sqrtn', 'concat'}, default='sqrtn'
        As the regressor's.
    weighting : {'count', 'binary', 'sublinear'}, default='count'
        The regressor's default is ``'sublinear'``.
    ngram_range : tuple (min_n, max_n) or 'auto', default='auto'
        As the regressor's: ``(1, 2)`` for raw strings, else ``(1, 1)``.
    char_wb_ngram_range : tuple (min_n, max_n), 'auto' or None, default='auto'
        As the regressor's: ``(2, 5)`` for raw strings, else None.
    linear_path : bool, default=True
        Starts at the logistic regression on ``Π`` (above).
    alpha_embedding : float, default=1e-4
        As the regressor's.
    hidden_layer_sizes : array-like of int, default=(64,)
        As the regressor's.
    learning_rate_init : float, default=0.003
        As the regressor's.
    early_stopping : bool, default=True
        Scored by minus the validation log-loss (above).
    n_iter_no_change : int, default=5
        Epochs without improvement before early stopping (above).
    embedding_dim, max_length, idf, char_ngram_range, n_subword_buckets, \
n_char_buckets, initial_embeddings, freeze_embeddings, alpha_linear, \
activation, min_count, max_vocabulary, n_buckets, tokenizer, lowercase, \
token_pattern, dtype, solver, alpha, batch_size, learning_rate, power_t, \
max_iter, shuffle, random_state, tol, verbose, warm_start, momentum, \
nesterovs_momentum, validation_fraction, beta_1, beta_2, epsilon, n_jobs
        :class:`EmbeddingBagRegressor`'s meaning and default.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (label indices for multilabel ``y``).
    embeddings_ : ndarray of shape (n_rows, embedding_dim)
        The trained table.
    out_activation_ : str
        ``'softmax'`` for several classes, else ``'logistic'``.

    Other fitted attributes are :class:`EmbeddingBagRegressor`'s.

    Examples
    --------
    >>> from sknotes import EmbeddingBagClassifier
    >>> docs = ["good food", "bad service", "good service", "bad"]
    >>> clf = EmbeddingBagClassifier(embedding_dim=4, max_iter=50, random_state=0)
    >>> clf.fit(docs, ["yes", "no", "yes", "no"]).predict_proba(["good"]).shape
    (1, 2)
    """

    _parameter_constraints: dict = {
        key: value
        for key, value in EmbeddingBagRegressor._parameter_constraints.items()
        if key != "loss"
    }
    _y_numeric = False

    def __init__(
        self,
        embedding_dim=32,
        pooling="sqrtn",
        *,
        max_length=None,
        weighting="count",
        idf=False,
        ngram_range="auto",
        char_ngram_range=None,
        n_subword_buckets=2**18,
        char_wb_ngram_range="auto",
        n_char_buckets=2**16,
        initial_embeddings=None,
        freeze_embeddings=False,
        linear_path=True,
        alpha_embedding=ALPHA_EMBEDDING,
        alpha_linear="auto",
        hidden_layer_sizes=(64,),
        activation="relu",
        min_count=1,
        max_vocabulary=None,
        n_buckets=None,
        tokenizer=None,
        lowercase=True,
        token_pattern=TOKEN_PATTERN,
        dtype=None,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.003,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=True,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=5,
        n_jobs=None,
    ):
        _store_params(self, locals())

    def _prepare_target(self, y, sample_weight, first_pass):
        # Labels are 0/1 indicators for the logits: nothing to standardise.
        if first_pass:
            self._y_mean = np.zeros(y.shape[1], dtype=y.dtype)
            self._y_scale = np.ones(y.shape[1], dtype=y.dtype)
            self._y_log_mean = 0.0
        return y

    # What LossCurveDisplay calls the validation score.
    _VALIDATION_SCORE_NAME = "−log-loss"

    def _validation_scorer(self, Y, S, sample_weight):
        """Minus the log-loss of logits ``S`` (the fused loss node's forward).

        Early stopping and the linear start's choice of ``alpha_linear`` score by
        it instead of :class:`MLPClassifierFromNotes`'s accuracy: accuracy is a
        step function of the logits, flat on a few dozen held-out documents
        while they move towards the boundary, so ten epochs without a change
        stopped training before it learned; the log-loss moves with every step.
        """
        return -self._loss_node().forward(S, Y, sample_weight)

    _LINEAR_ALPHAS = LINEAR_ALPHAS

    def _linear_start(self):
        return True

    def _initialize_from_training_rows(self, train):
        # Warm starts of the linear start's solves live for this call only:
        # a refit must not start from an earlier fit's solution.
        self._linear_warm_starts = {}
        try:
            super()._initialize_from_training_rows(train)
        finally:
            del self._linear_warm_starts

    def _linear_solution(self, X, Y, sample_weight, alpha):
        """``(w, b)`` of the linear path alone: the notes' linear node ``S = Π·w + b``
        into the fused loss node, ``min L(S, Y) + α/(2n)·‖w‖²`` (logistic
        regression with ``C = 1/α``; ``n`` rows, or ``Σ sᵢ``), by L-BFGS from zero.

        The gradient is the nodes' own: ``grad_S`` from the loss node's backward,
        ``grad_w = Πᵀ·grad_S + (α/n)·w``, ``grad_b = Σᵢ grad_S``.  At most
        ``LINEAR_START_ITERATIONS`` iterations: a start, not a finished model.
        A cross-validation fold's solve starts from that fold's solution at the
        previous (larger) alpha, so the search over alphas costs a few full
        solves, not one per alpha; the final solve on all training rows starts
        from the last fold's solution at the chosen alpha.
        """
        n_rows, k = X.shape[1], Y.shape[1]
        warm = self.__dict__.get("_linear_warm_starts", {})
        total = sample_weight.sum()
        if total <= 0:
            return None
        node = self._loss_node()

        def loss_and_gradient(theta):
            w, b = theta[:-k].reshape(n_rows, k), theta[-k:]
            loss = node.forward(X @ w + b, Y, sample_weight)
            grad_S = node.backward()
            grad_w = X.T @ grad_S + (alpha / total) * w
            loss += alpha / (2 * total) * float(np.vdot(w, w))
            return loss, np.concatenate([grad_w.ravel(), grad_S.sum(axis=0)])

        # A fold's solve starts from its own solution at the previous alpha, or
        # from zero at the first (another fold's has seen this fold's held-out
        # rows: starting there leaked them into the scores of an unconverged
        # solve, which then chose the smallest alpha); the final solve on all
        # rows from the last at its alpha.
        zero = np.zeros(n_rows * k + k)
        searching = self.__dict__.get("_searching_alpha", False)
        start = warm.get(id(X), zero if searching else warm.get(alpha, zero))
        theta = minimize(
            loss_and_gradient,
            start,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": LINEAR_START_ITERATIONS, "gtol": LINEAR_START_GTOL},
        ).x
        warm[id(X)] = warm[alpha] = theta
        return theta[:-k].reshape(n_rows, k), theta[-k:]

    @available_if(has_partial_fit)
    @with_callbacks
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``X``; the vocabulary is fixed by the first call.

        Parameters
        ----------
        X : see :meth:`fit`
        y : array-like of shape (n_documents,) or (n_documents, n_labels)
            Class labels, or a label indicator matrix.
        sample_weight : array-like of shape (n_documents,), default=None
        classes : array-like of shape (n_classes,), default=None
            Every class of all calls; required on the first call only.

        Returns
        -------
        self : object
        """
        return self._partial_fit_classes(X, y, sample_weight, classes)

    def token_attributions(self, X, class_=None):
        """Each term's derivative of the chosen class's logit, in document order.

        The derivative is of the logit, not the probability: for two classes the
        logit of ``classes_[1]`` is ``s = log(p/(1 − p))`` and that of
        ``classes_[0]`` is ``−s``; for several classes it is ``s_k``, the input of
        the softmax (defined up to a shift shared by all classes, so only
        differences between classes' attributions compare probabilities); per
        label for multilabel ``y``.  The terms and their order are
        :meth:`EmbeddingBagRegressor.token_attributions`'s, from the notes'
        ``grad_Π = grad_R·Tableᵀ``.

        Parameters
        ----------
        X : see :meth:`fit`
        class_ : label, default=None
            The class (or label index) to explain; ``classes_[1]`` when None with
            two classes, required otherwise.

        Returns
        -------
        list of list of (term, float)
        """
        check_is_fitted(self)
        classes = list(self.classes_)
        if class_ is None:
            if self.n_outputs_ != 1:
                raise ValueError(
                    f"class_ is required with {len(classes)} classes; one of {classes}."
                )
            class_ = classes[-1]
        if class_ not in classes:
            raise ValueError(f"class_ must be one of {classes}; got {class_!r}.")
        index = classes.index(class_)
        binary = self.n_outputs_ == 1
        column = 0 if binary else index
        attributions = super().token_attributions(X, output=column)
        if binary and index == 0:
            return [[(term, -value) for term, value in doc] for doc in attributions]
        return attributions
