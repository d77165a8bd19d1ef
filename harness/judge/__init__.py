"""Pure judging: comparison, consensus, verdict and blame, evidence (Taylor, diagnosis)."""
