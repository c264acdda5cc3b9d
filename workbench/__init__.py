"""Workbench: run AWS Lambda-style functions locally with Lambda's real semantics."""

__version__ = "0.1.0"
