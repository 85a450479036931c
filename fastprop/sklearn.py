"""scikit-learn estimators: `MLPClassifier` and `MLPRegressor`, drop-in replacements of
sklearn.neural_network's, trained by fastprop's compiled loop (`Network.fit`).

This module imports scikit-learn (an optional extra); nothing else in fastprop imports it.
It holds only the translation between scikit-learn's MLP semantics and fastprop's: label
encoding, the parameters' names and defaults, the epoch loop's bookkeeping (loss_curve_,
tol / n_iter_no_change stopping, early_stopping on a validation score, the learning-rate
rules), and the fitted attributes. One compiled `fit` runs the epochs; the bookkeeping is
its callback, after each epoch.

Where fastprop's losses differ in scale from scikit-learn's (the regressor's squared loss is
half the mean squared error there; multilabel log-loss sums its outputs there), the learning
rate (sgd) or epsilon (adam) and the L2 term are rescaled so that each step is scikit-learn's
step; `loss_` and `loss_curve_` are on scikit-learn's scale. Two differences remain: adam
adds epsilon after PyTorch's bias correction (scikit-learn folds the correction into the
rate), and sgd with momentum under "invscaling"/"adaptive" keeps PyTorch's momentum buffer
of raw gradients (scikit-learn's holds rate-scaled steps); with a constant rate sgd's steps
are scikit-learn's."""
import copy
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import (_check_sample_weight, check_is_fitted, column_or_1d,
                                      validate_data)

import fastprop as _fp
from fastprop import training as _training
from fastprop.training import TrainingDivergedError

__all__ = ["MLPClassifier", "MLPRegressor", "expected_failed_checks"]

# scikit-learn's activation names -> fastprop's (fastprop's own names pass through)
_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
_OUT_NAMES = {"identity": "identity", "sigmoid": "logistic", "softmax": "softmax"}


def expected_failed_checks(estimator):
    """The scikit-learn estimator checks that `estimator` (a fastprop MLPClassifier or
    MLPRegressor) is known to fail, as {check name: reason}, for check_estimator's and
    parametrize_with_checks' `expected_failed_checks`. With batch_size="auto" and no
    early_stopping there are none: the checks' data sets are smaller than 200 samples, so
    each epoch is one full batch, where a weight of 2 and a repeated sample are the same."""
    failing = {}
    if getattr(estimator, "batch_size", "auto") != "auto" or getattr(estimator,
                                                                     "early_stopping", False):
        failing["check_sample_weight_equivalence_on_dense_data"] = (
            "stochastic mini-batch training: a sample of weight 2 is not the same as the "
            "sample twice (the batches, their sizes and the shuffling differ, and "
            "early_stopping's split too); scikit-learn's own MLPs pass it only with "
            "solver='lbfgs' or full batches")
    return failing


def _check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: expected one of {sorted(choices)}, got {value!r}")
    return value


def _check_real(value, name, low=None, high=None, low_open=False, high_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    bad = not np.isfinite(value)
    if low is not None:
        bad = bad or (value <= low if low_open else value < low)
    if high is not None:
        bad = bad or (value >= high if high_open else value > high)
    if bad:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name}: expected a number in {lo}{low if low is not None else '-inf'}"
                         f", {high if high is not None else 'inf'}{hi}, got {value}")
    return value


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {type(value).__name__} {value!r}")
    return bool(value)


class _Threads:
    """Sets fastprop's thread count for the duration of a with-block (None: unchanged)."""

    def __init__(self, n):
        self.n, self.old = n, None

    def __enter__(self):
        if self.n is not None:
            self.old = _fp.get_num_threads()
            _fp.set_num_threads(self.n)

    def __exit__(self, *exc):
        if self.old is not None:
            _fp.set_num_threads(self.old)


class _EpochRules:
    """scikit-learn MLP's bookkeeping after each epoch, as a callback of fastprop's fit:
    loss_curve_ on scikit-learn's scale, the validation score and best parameters
    (early_stopping), the tol / n_iter_no_change count, sgd's "invscaling" and "adaptive"
    rates. It writes `state` (the future fitted attributes) and stops the fit when training
    is over (`stopped`) or when sgd's rate changed, since a fit's rate is fixed."""

    def __init__(self, est, p, state, net, n, Xv, Yv, wv, incremental):
        self.est, self.p, self.state, self.net, self.n = est, p, state, net, n
        self.Xv, self.Yv, self.wv, self.incremental = Xv, Yv, wv, incremental
        self.c = est._grad_scale
        self.best_params = net.params.copy() if p["early_stopping"] else None
        self.stopped = False

    def on_epoch_end(self, epoch, logs):
        """Records the epoch that ended; True stops the fit."""
        p, state = self.p, self.state
        lr_before = state["_lr"]
        state["n_iter_"] += 1
        state["t_"] += self.n
        loss = logs["loss"] / self.c
        state["loss_curve_"].append(loss)
        if p["verbose"]:
            print(f"Iteration {state['n_iter_']}, loss = {loss:.8f}")
        if p["early_stopping"]:
            score = self.est._score_net(self.net, self.Xv, self.Yv, self.wv)
            state["validation_scores_"].append(score)
            if p["verbose"]:
                print(f"Validation score: {score:f}")
            if score < state["best_validation_score_"] + p["tol"]:
                state["_no_improvement_count"] += 1
            else:
                state["_no_improvement_count"] = 0
            if score > state["best_validation_score_"]:
                state["best_validation_score_"] = score
                self.best_params[...] = self.net.params
        else:
            if loss > state["best_loss_"] - p["tol"]:
                state["_no_improvement_count"] += 1
            else:
                state["_no_improvement_count"] = 0
            if loss < state["best_loss_"]:
                state["best_loss_"] = loss
        if p["solver"] == "sgd" and p["learning_rate"] == "invscaling":
            state["_lr"] = p["learning_rate_init"] / (state["t_"] + 1) ** p["power_t"]
        if state["_no_improvement_count"] > p["n_iter_no_change"]:
            if p["solver"] == "sgd" and p["learning_rate"] == "adaptive" and state["_lr"] > 1e-6:
                state["_lr"] /= 5.0
                if p["verbose"]:
                    print(f"Setting learning rate to {state['_lr']:f}")
                state["_no_improvement_count"] = 0
            else:
                if p["verbose"]:
                    what = "Validation score" if p["early_stopping"] else "Training loss"
                    print(f"{what} did not improve more than tol={p['tol']:f} for "
                          f"{p['n_iter_no_change']} consecutive epochs. Stopping.")
                self.stopped = True
        if self.incremental:
            self.stopped = True
        return self.stopped or (p["solver"] == "sgd" and state["_lr"] != lr_before)


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: parameters, the network, the epoch loop."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 max_fun=15000, dtype="float64", n_threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.n_threads = n_threads

    # ---- parameters -------------------------------------------------------------------
    def _checked_params(self):
        """The hyper-parameters, checked (ValueError/TypeError naming the parameter)."""
        p = {}
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        if not isinstance(sizes, (tuple, list, np.ndarray)):
            raise TypeError(f"hidden_layer_sizes: expected a tuple of layer widths such as "
                            f"(100,), got {type(sizes).__name__} {sizes!r}")
        p["sizes"] = [_check_int(s, f"hidden_layer_sizes[{i}]", 1) for i, s in enumerate(sizes)]
        act = self.activation
        if not isinstance(act, str):
            raise ValueError(f"activation: expected one of {sorted(_ACTIVATIONS)} or a fastprop "
                             f"activation name, got {act!r}")
        act = _ACTIVATIONS.get(act, act)
        if act == "softmax" or act not in _fp.ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(_ACTIVATIONS)} or a fastprop "
                             f"hidden activation ({sorted(set(_fp.ACTIVATIONS) - {'softmax'})}),"
                             f" got {self.activation!r}")
        p["activation"] = act
        if self.solver == "lbfgs":
            raise ValueError("solver: 'lbfgs' is not available in fastprop (a full-batch "
                             "quasi-Newton method, not the compiled mini-batch loop); expected "
                             "'sgd' or 'adam'")
        p["solver"] = _check_choice(self.solver, "solver", {"sgd", "adam"})
        p["alpha"] = _check_real(self.alpha, "alpha", 0.0)
        if isinstance(self.batch_size, str):
            _check_choice(self.batch_size, "batch_size", {"auto"})
            p["batch_size"] = None
        else:
            p["batch_size"] = _check_int(self.batch_size, "batch_size", 1)
        p["learning_rate"] = _check_choice(self.learning_rate, "learning_rate",
                                           {"constant", "invscaling", "adaptive"})
        p["learning_rate_init"] = _check_real(self.learning_rate_init, "learning_rate_init",
                                              0.0, low_open=True)
        p["power_t"] = _check_real(self.power_t, "power_t", 0.0)
        p["max_iter"] = _check_int(self.max_iter, "max_iter", 1)
        p["shuffle"] = _check_bool(self.shuffle, "shuffle")
        p["tol"] = _check_real(self.tol, "tol", 0.0)
        p["verbose"] = bool(self.verbose)
        p["warm_start"] = _check_bool(self.warm_start, "warm_start")
        p["momentum"] = _check_real(self.momentum, "momentum", 0.0, 1.0)
        p["nesterov"] = _check_bool(self.nesterovs_momentum, "nesterovs_momentum")
        if p["nesterov"] and p["momentum"] == 0 and p["solver"] == "sgd":
            p["nesterov"] = False          # scikit-learn's formula is plain sgd there
        p["early_stopping"] = _check_bool(self.early_stopping, "early_stopping")
        p["validation_fraction"] = _check_real(self.validation_fraction, "validation_fraction",
                                               0.0, 1.0, high_open=True)
        p["beta_1"] = _check_real(self.beta_1, "beta_1", 0.0, 1.0, high_open=True)
        p["beta_2"] = _check_real(self.beta_2, "beta_2", 0.0, 1.0, high_open=True)
        p["epsilon"] = _check_real(self.epsilon, "epsilon", 0.0, low_open=True)
        p["n_iter_no_change"] = _check_int(self.n_iter_no_change, "n_iter_no_change", 1)
        _check_int(self.max_fun, "max_fun", 1)     # lbfgs's, as in scikit-learn: unused here
        p["dtype"] = _check_choice(str(np.dtype(self.dtype)) if not isinstance(self.dtype, str)
                                   else self.dtype, "dtype", {"float64", "float32"})
        if self.n_threads is not None:
            _check_int(self.n_threads, "n_threads", 1)
        return p

    # ---- the network --------------------------------------------------------------------
    def _new_network(self, p, n_in, n_out, rng):
        """A fastprop Network initialised as scikit-learn's MLP (Glorot uniform, biases too,
        drawn from rng in its order), its shuffling stream seeded from rng after that."""
        out, loss = self._output(n_out)
        sizes = [n_in] + p["sizes"] + [n_out]
        factor = 2.0 if p["activation"] == "sigmoid" else 6.0
        coefs, intercepts = [], []
        for a, b in zip(sizes[:-1], sizes[1:]):
            bound = np.sqrt(factor / (a + b))
            coefs.append(rng.uniform(-bound, bound, (a, b)))
            intercepts.append(rng.uniform(-bound, bound, b))
        seed = int(rng.randint(np.iinfo(np.int32).max))
        net = _fp.mlp(sizes, hidden=p["activation"], output=out, loss=loss, dtype=p["dtype"],
                      seed=seed)
        for layer, W, b in zip(_dense(net), coefs, intercepts):
            layer.W[...] = W
            layer.b[...] = b
        return net

    def _new_optimizer(self, p):
        c = self._grad_scale
        if p["solver"] == "sgd":
            return _fp.SGD(lr=p["learning_rate_init"] / c, momentum=p["momentum"],
                           nesterov=p["nesterov"])
        return _fp.Adam(lr=p["learning_rate_init"], betas=(p["beta_1"], p["beta_2"]),
                        eps=p["epsilon"] * c)

    # ---- fitting --------------------------------------------------------------------------
    def _fit(self, X, y, sample_weight, incremental, classes=None):
        """fit / partial_fit: on any exception the estimator is restored as it was."""
        saved = dict(self.__dict__)
        try:
            with _Threads(self.n_threads):
                return self._fit_unsafe(X, y, sample_weight, incremental, classes)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _fit_unsafe(self, X, y, sample_weight, incremental, classes):
        p = self._checked_params()
        if incremental and p["early_stopping"]:
            raise ValueError("partial_fit: early_stopping=True is not supported in partial_fit "
                             "(each call is one epoch; there is no held-out score to watch)")
        fitted = hasattr(self, "network_")
        first_pass = not fitted or (not p["warm_start"] and not incremental)
        X, Y = self._validate_training(X, y, incremental, first_pass, classes)
        n, n_in = X.shape
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        n_out = Y.shape[1]
        rng = check_random_state(self.random_state)
        if first_pass:
            net = self._new_network(p, n_in, n_out, rng)
            opt = self._new_optimizer(p)
            state = dict(n_iter_=0, t_=0, loss_curve_=[], _no_improvement_count=0,
                         validation_scores_=[] if p["early_stopping"] else None,
                         best_validation_score_=-np.inf if p["early_stopping"] else None,
                         best_loss_=None if p["early_stopping"] else np.inf,
                         _lr=p["learning_rate_init"])
        else:
            if n_out != self.network_.n_out:
                raise ValueError(f"y: expected {self.network_.n_out} outputs as in the previous "
                                 f"fit (warm_start / partial_fit), got {n_out}")
            # trained on copies, so that a refused or failed call leaves the fitted ones
            net, opt = copy.deepcopy((self.network_, self._optimizer))
            lr = self._lr
            if not incremental or p["solver"] != self._solver:
                # as scikit-learn: a warm-started fit starts a new optimizer; partial_fit not
                opt, lr = self._new_optimizer(p), p["learning_rate_init"]
            state = dict(n_iter_=0, t_=self.t_, loss_curve_=list(self.loss_curve_),
                         _no_improvement_count=self._no_improvement_count,
                         validation_scores_=(list(self.validation_scores_)
                                             if self.validation_scores_ is not None else None),
                         best_validation_score_=self.best_validation_score_,
                         best_loss_=self.best_loss_, _lr=lr)
            if p["early_stopping"] and state["validation_scores_"] is None:
                state.update(validation_scores_=[], best_validation_score_=-np.inf,
                             best_loss_=None)
            elif not p["early_stopping"] and state["best_loss_"] is None:
                state.update(best_loss_=np.inf, validation_scores_=None,
                             best_validation_score_=None)
        Xv = Yv = wv = None
        if p["early_stopping"]:
            stratify = Y if (is_classifier(self) and n_out == 1) else None
            parts = train_test_split(X, Y, *(() if sample_weight is None else (sample_weight,)),
                                     random_state=rng, test_size=p["validation_fraction"],
                                     stratify=stratify)
            X, Xv, Y, Yv = parts[:4]
            if sample_weight is not None:
                sample_weight, wv = parts[4:]
            n = X.shape[0]
        batch = min(200, n) if p["batch_size"] is None else p["batch_size"]
        if batch > n and p["batch_size"] is not None:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going "
                          "to be clipped", UserWarning)
        batch = min(batch, n)
        book = _EpochRules(self, p, state, net, n, Xv, Yv, wv, incremental)
        c = self._grad_scale
        n_iter = 0
        while n_iter < p["max_iter"] and not book.stopped:
            if p["solver"] == "sgd":
                opt.lr = state["_lr"] / c
            # one compiled fit for all the epochs left: the rules run as its callback, which
            # stops it early, or after an epoch that changed sgd's rate (the fit's rate is fixed)
            try:
                hist = _training.fit(net, X, Y, epochs=p["max_iter"] - n_iter, batch_size=batch,
                                     optimizer=opt, shuffle=p["shuffle"],
                                     sample_weight=sample_weight, _l2=p["alpha"] * c,
                                     callbacks=[book])
            except TrainingDivergedError:
                raise ValueError("Solver produced non-finite parameter weights. The input data "
                                 "may contain large values and need to be preprocessed.") from None
            n_iter += hist.epochs
        if n_iter == p["max_iter"] and not book.stopped:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({p['max_iter']}) "
                          f"reached and the optimization hasn't converged yet.",
                          ConvergenceWarning)
        if p["early_stopping"]:
            net.params[...] = book.best_params
        if not np.all(np.isfinite(net.params)):
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed.")
        # commit: everything at once, after the last thing that could refuse
        for key, value in state.items():
            setattr(self, key, value)
        self.loss_ = state["loss_curve_"][-1]
        self.network_, self._optimizer, self._solver = net, opt, p["solver"]
        self.n_outputs_ = n_out
        self.n_layers_ = len(p["sizes"]) + 2
        self.out_activation_ = _OUT_NAMES[self._output(n_out)[0]]
        return self

    # ---- fitted attributes and prediction ---------------------------------------------------
    @property
    def coefs_(self):
        """The weight matrices, (n_in, n_out) each: views into network_.params."""
        if "network_" not in self.__dict__:
            raise AttributeError("coefs_: the estimator is not fitted yet")
        return [layer.W for layer in _dense(self.network_)]

    @property
    def intercepts_(self):
        """The bias vectors: views into network_.params."""
        if "network_" not in self.__dict__:
            raise AttributeError("intercepts_: the estimator is not fitted yet")
        return [layer.b for layer in _dense(self.network_)]

    def _forward(self, X):
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        with _Threads(self.n_threads):
            return self.network_.predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def _dense(net):
    return [layer for layer in net.layers if isinstance(layer, _fp.Dense)]


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """scikit-learn's MLPClassifier, trained by fastprop: the same parameters (solvers "sgd"
    and "adam"), defaults and fitted attributes; plus dtype ("float64", "float32") and
    n_threads (fastprop's threads while fitting and predicting; None: unchanged).

    Binary targets get one logistic output, multiclass a softmax, multilabel indicator
    matrices logistic outputs; labels of any type (LabelBinarizer). `network_` is the trained
    fastprop Network."""
    def _output(self, n_out):
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax", "cross_entropy"
        return "sigmoid", "binary_cross_entropy"

    @property
    def _grad_scale(self):
        # fastprop's binary cross-entropy is the mean over outputs too; scikit-learn sums them
        lb = self.__dict__.get("_label_binarizer")
        if lb is not None and lb.y_type_.startswith("multilabel"):
            return 1.0 / len(lb.classes_)
        return 1.0

    def _validate_training(self, X, y, incremental, reset, classes):
        X, y = validate_data(self, X, y, multi_output=True, dtype=(np.float64, np.float32),
                             reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if incremental and "_label_binarizer" not in self.__dict__:
            if classes is None:
                raise ValueError("classes: expected the list of all classes in the first call "
                                 "to partial_fit, got None")
            lb = LabelBinarizer()
            lb.fit(y if type_of_target(y).startswith("multilabel") else np.asarray(classes))
            missing = np.setdiff1d(unique_labels(y), lb.classes_)
            if len(missing):
                raise ValueError(f"y: has classes {missing} not in classes {lb.classes_}")
            self._label_binarizer, self.classes_ = lb, lb.classes_
        elif reset:
            lb = LabelBinarizer()
            lb.fit(y)
            self._label_binarizer, self.classes_ = lb, lb.classes_
        else:
            labels = unique_labels(y)
            if self.warm_start and not incremental:
                if set(labels) != set(self.classes_):
                    raise ValueError(f"warm_start can only be used where `y` has the same "
                                     f"classes as in the previous call to fit. Previously got "
                                     f"{self.classes_}, `y` has {labels}")
            elif len(np.setdiff1d(labels, self.classes_)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {labels}.")
        Y = self._label_binarizer.transform(y)
        dtype = np.float32 if self._checked_params()["dtype"] == "float32" else np.float64
        return X, np.ascontiguousarray(Y, dtype=dtype)

    def _score_net(self, net, Xv, Yv, wv):
        pred = net.predict(Xv)
        if pred.shape[1] == 1:
            pred, Yv = pred.ravel(), Yv.ravel()
        return accuracy_score(self._label_binarizer.inverse_transform(Yv),
                              self._label_binarizer.inverse_transform(pred), sample_weight=wv)

    def fit(self, X, y, sample_weight=None):
        """Fit the model to X (n_samples, n_features) and the labels y (n_samples,) or a
        multilabel indicator matrix. sample_weight: one weight >= 0 a sample. Returns self."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing the previous ones (optimizer state kept);
        `classes` (every label there will be) is required on the first call."""
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict(self, X):
        """The predicted labels, of the type of the labels given to fit."""
        out = self._forward(X)
        if out.shape[1] == 1:
            out = out.ravel()
        return self._label_binarizer.inverse_transform(out)

    def predict_proba(self, X):
        """The probability of each class, (n_samples, n_classes); rows sum to 1 (but for
        multilabel targets: the probability of each label)."""
        out = np.asarray(self._forward(X), dtype=np.float64)
        if out.shape[1] == 1:
            out = out.ravel()
            return np.vstack([1 - out, out]).T
        return out

    def predict_log_proba(self, X):
        """log(predict_proba(X))."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """scikit-learn's MLPRegressor (squared error), trained by fastprop: the same parameters
    (solvers "sgd" and "adam"), defaults and fitted attributes; plus dtype and n_threads.
    `loss_` is scikit-learn's half mean squared error. `network_` is the trained Network."""

    def _output(self, n_out):
        return "identity", "mse"

    @property
    def _grad_scale(self):
        # fastprop's mse (mean over every element) has the gradient of scikit-learn's loss
        # (half the squared error, summed over outputs, mean over samples) times 2 / n_outputs
        n_out = self.__dict__.get("_n_out_fitting", 1)
        return 2.0 / n_out

    def _validate_training(self, X, y, incremental, reset, classes):
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        self._n_out_fitting = y.shape[1]
        dtype = np.float32 if self._checked_params()["dtype"] == "float32" else np.float64
        return X, np.ascontiguousarray(y, dtype=dtype)

    def _score_net(self, net, Xv, Yv, wv):
        return r2_score(Yv, net.predict(Xv), sample_weight=wv)

    def fit(self, X, y, sample_weight=None):
        """Fit the model to X (n_samples, n_features) and y (n_samples,) or (n_samples,
        n_targets). sample_weight: one weight >= 0 a sample. Returns self."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing the previous ones (optimizer state kept)."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """The predictions, (n_samples,) for one target, else (n_samples, n_targets)."""
        out = self._forward(X)
        return out.ravel() if out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
