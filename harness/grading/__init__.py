"""Grading one candidate: the pipeline, the composite score, integrity and proofs."""
