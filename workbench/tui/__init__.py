"""The Textual workbench. It reaches the engine only through its public API and event stream."""
