"""A pool of sandbox engines: placement, draining, cleanup and the operator's report."""
