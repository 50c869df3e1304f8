"""The one exception type flows raise: an EPP result with a precise reason."""

from __future__ import annotations

from dataclasses import dataclass, field

from domreg.model.results import Result


@dataclass(frozen=True)
class ErrorValue:
    """An offending element for `<extValue>`: its XML (already serialised) and why it failed."""

    xml: str
    reason: str


@dataclass
class EppError(Exception):
    """A command failed with `code`; `reason` is the human text added to the standard message."""

    code: Result
    reason: str = ""
    values: list[ErrorValue] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(f"{int(self.code)} {self.code.message}: {self.reason}")

    @property
    def text(self) -> str:
        """The <msg> text: the standard message, then the precise reason."""
        if self.reason:
            return f"{self.code.message}: {self.reason}"
        return self.code.message
