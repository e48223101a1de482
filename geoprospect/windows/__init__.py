"""Windows over the evidence stack: tiling, labels, spatial splits and folds, torch datasets, windows cut on a device."""
