"""Jinja2 templates for the code that rewriter injects into entries.

This directory is shipped inside the wheel as the ``rewriter._templates`` package
so that the templates load from the installed package.
"""
