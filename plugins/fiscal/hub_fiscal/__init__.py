"""Fiscal Directorate and department delivery — skeleton until its issue lands."""
