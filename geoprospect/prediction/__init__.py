"""Scoring windows over the whole stack and writing the prospectivity map."""
