"""Climate data: readers, indicators and the indicator cube.

Nothing here knows about loans (README, "Architecture"; enforced by tests/test_architecture.py).
"""
