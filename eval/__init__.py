"""Evaluation: the hand-written dataset (eval.dataset) and, later, the runner and metrics."""
