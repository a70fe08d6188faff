"""Losses. Each takes embeddings (never a model) and returns a scalar."""

from textcl.losses.infonce import InfoNCE
from textcl.losses.pairwise import PairwiseContrastiveLoss
from textcl.losses.softmax import SoftmaxLoss
from textcl.losses.triplet import TripletLoss

__all__ = ["InfoNCE", "PairwiseContrastiveLoss", "TripletLoss", "SoftmaxLoss"]
