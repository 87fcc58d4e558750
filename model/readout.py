"""Readout: a linear SVM (scikit-learn) on the globally pooled last-layer potentials."""
from __future__ import annotations

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from .config import Config


def pipeline(cfg: Config, max_iter: int = 20_000):
    """The readout, unfitted: standardise each feature, then a one-vs-rest linear SVM."""
    return make_pipeline(StandardScaler(),
                         LinearSVC(C=cfg.readout.svm_c, dual=False, max_iter=max_iter, random_state=0))


def fit(cfg: Config, features: np.ndarray, labels: np.ndarray, max_iter: int = 20_000):
    """The readout fitted on ``features``."""
    return pipeline(cfg, max_iter).fit(features, labels)


def accuracy(clf, features: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(clf.predict(features) == labels))
