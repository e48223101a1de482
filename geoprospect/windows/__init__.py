"""Windows over the evidence stack: tiling, labels, spatial splits, torch datasets."""
