"""Evidence layers on the run's grid: IDW geochemistry, distance to features, the stack."""
