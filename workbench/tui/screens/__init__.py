"""Whole screens: the main workbench, an invocation's record, the debugger pane, the help."""
