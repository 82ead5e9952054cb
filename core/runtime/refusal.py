"""A request refused with a protocol code (PROTOCOL §6): the Sync Manager answers it and stops."""


class Refusal(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description
