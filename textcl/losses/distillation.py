"""Distillation from a teacher: the mean squared error between the student's embeddings and the teacher's."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MSELoss"]


class MSELoss(nn.Module):
    r"""Mean squared error between student embeddings and the teacher embeddings given as labels.

    The student learns to reproduce a teacher's vectors (Reimers and Gurevych 2020): each text
    column's embeddings ``u`` are compared with the teacher's ``t`` of the same rows,
    ``mean((u - t)^2)`` over rows and dimensions, and the columns' losses are averaged. The
    teacher vectors are constants (no gradient). A ``(N, d)`` teacher matrix serves every column
    (e.g. an English sentence and its translation both learn the English teacher vector);
    ``(N, k, d)`` gives column ``c`` its own ``[:, c]``. Add the teacher column to a dataset with
    :func:`textcl.data.teacher.add_teacher_embeddings` and read it with ``DistillationView``.
    This is sentence-transformers' ``MSELoss`` without a projection (same value and gradient):
    the teacher must have the student's dimension.

    Shape:
        - embeddings: ``k`` tensors ``(N, d)`` (student)
        - labels: ``(N, d)`` or ``(N, k, d)`` (teacher)
        - output: scalar

    Raises:
        ValueError: a teacher of another shape or dimension than the student's (named in the message).

    Example:
        >>> loss_fn = MSELoss()
        >>> student, teacher = torch.randn(2, 4, 16).unbind(0)
        >>> loss = loss_fn(student, teacher)

    Reference:
        Reimers and Gurevych, "Making Monolingual Sentence Embeddings Multilingual using Knowledge
        Distillation", EMNLP 2020. https://arxiv.org/abs/2004.09813
    """

    takes_labels = True

    def get_config(self) -> dict[str, Any]:
        """The loss's name, as the run record keeps it."""
        return {"name": "mse"}

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """``forward(*student_embeddings, teacher)``: the mean of each column's mean squared error."""
        if len(inputs) < 2:
            raise ValueError("MSELoss takes the student embeddings and then the teacher embeddings (the labels); got "
                             f"{len(inputs)} tensor(s): read the data with DistillationView (text, teacher vector)")
        *students, teacher = inputs
        first = students[0]
        if first.dim() != 2 or first.shape[0] == 0:
            raise ValueError(f"MSELoss: student embeddings must have shape (N, d) with N >= 1, got "
                             f"{tuple(first.shape)}")
        teacher = torch.as_tensor(teacher, device=first.device).detach()
        if teacher.dim() == 2:
            targets = [teacher] * len(students)
        elif teacher.dim() == 3 and teacher.shape[1] == len(students):
            targets = list(teacher.unbind(1))
        else:
            raise ValueError(f"MSELoss: the teacher embeddings must have shape (N, d) or (N, {len(students)}, d) "
                             f"for {len(students)} text column(s), got {tuple(teacher.shape)}")
        losses = []
        for student, target in zip(students, targets):
            if target.shape != student.shape:
                raise ValueError(f"MSELoss: teacher embeddings {tuple(target.shape)} do not match the student's "
                                 f"{tuple(student.shape)}: use a teacher with the student's dimension")
            losses.append(F.mse_loss(student, target.to(student.dtype)))
        return torch.stack(losses).mean()
