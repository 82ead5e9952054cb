"""Action dialogs: each validates its input, runs one protocol operation and shows the answer in words."""
