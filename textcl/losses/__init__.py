"""Losses. Each takes embeddings (never a model) and returns a scalar."""

from textcl.losses.distillation import MSELoss
from textcl.losses.guided import GISTEmbedLoss
from textcl.losses.infonce import InfoNCE
from textcl.losses.matryoshka import MatryoshkaLoss
from textcl.losses.online_contrastive import OnlineContrastiveLoss
from textcl.losses.pairwise import PairwiseContrastiveLoss
from textcl.losses.scored import AnglELoss, CoSENTLoss, CosineSimilarityLoss
from textcl.losses.softmax import SoftmaxLoss
from textcl.losses.triplet import TripletLoss

__all__ = ["AnglELoss", "CoSENTLoss", "CosineSimilarityLoss", "GISTEmbedLoss", "InfoNCE", "MSELoss", "MatryoshkaLoss",
           "OnlineContrastiveLoss", "PairwiseContrastiveLoss", "SoftmaxLoss", "TripletLoss"]
