"""Reusable widgets: the run table, the chart view, the parallel-coordinates view, pickers."""
