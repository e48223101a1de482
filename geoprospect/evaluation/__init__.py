"""Evaluation: window metrics (scikit-learn) and deposit capture on the map."""
