"""Repayment-capacity models: energy, uncertainty, finance, risk, policy and assessment.

Pure functions and frozen dataclasses; no Flask, no file formats beyond the model registry.
"""
