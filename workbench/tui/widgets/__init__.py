"""The workbench's panes, each a widget that takes data down and posts messages up."""
