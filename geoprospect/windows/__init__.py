"""Windows over the evidence stack: tiling, labels, spatial splits and folds, torch datasets."""
