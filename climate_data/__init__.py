"""Climate data: readers, indicators and the indicator cube.

Nothing here knows about loans (DESIGN.md, Layout).
"""
