"""Models as served: settings, windowing, the NumPy runtime, verified artifacts, the registry
that loads them once, and the point policy the runtime's forecasts are served through."""
