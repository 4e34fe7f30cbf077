"""Population grids: rasters, vector grids and census totals onto one analysis grid."""
