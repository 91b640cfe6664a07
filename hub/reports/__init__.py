"""Reports the core produces (``hub report …``): the monthly overdue report."""
