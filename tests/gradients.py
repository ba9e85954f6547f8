"""Whole-model finite-difference checks shared by the estimators' tests."""

from sknotes.gradcheck import gradcheck


def check_whole_model_gradient(est, X, Y, loss_node):
    """Finite differences of ``loss_node``'s loss w.r.t. the table and θ at ``est``.

    ``Y`` is the target the network is compared with (2-D), ``X`` any input form
    the fitted estimator accepts.
    """
    network, Pi = est._network, est._validate_predict_input(X)

    def loss():
        return loss_node.forward(network.predict(Pi), Y)

    loss_node.forward(network.forward(Pi), Y)
    network.backward(loss_node.backward())
    gradcheck(loss, network.table, network.embedding.grad_table, rtol=1e-6)
    gradcheck(loss, network.theta, network.grad.copy(), rtol=1e-6)
