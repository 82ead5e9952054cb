"""Entry points: the `syncscope` command and app wiring."""
