"""Screens pushed over the main one: record detail, help, dialogs."""
