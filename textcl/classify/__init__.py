"""Classification on top of a sentence encoder: the classifier, its heads, fitting and prediction."""

from textcl.classify.classifier import SentenceClassifier

__all__ = ["SentenceClassifier"]
