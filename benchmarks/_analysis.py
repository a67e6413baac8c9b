"""Hand-written analysis appended to the report (profiling findings; updated by hand)."""

ANALYSIS = """
## Analysis

(pending)
"""
