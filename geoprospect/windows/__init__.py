"""Windows over the evidence stack: tiling, labels, spatial splits, torch datasets, windows cut on a device."""
