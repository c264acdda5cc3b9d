"""Modal dialogs a pane opens to ask for something: publish, an alias, a message, saved events.

They know neither the engine nor the app: each is handed what it needs (a coroutine that does the
work and returns a refusal as text, or a store) and dismisses with the answer.
"""
