"""Ray workers that run pieces of the decomposition (built in a later issue).

The embedded default runs the same pure functions of `decomposition` in-process.
"""
