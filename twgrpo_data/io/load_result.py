"""What every reader returns: the valid records, every problem found (file, record, field) and counted skips."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..record import Problem, Record


@dataclass
class LoadResult:
    """What a reader found: valid records, every problem, and counted skips by reason."""

    records: list[Record]
    problems: list[Problem] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    file: str | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def n_invalid(self) -> int:
        """Records left out for errors (a record with several errors counts once; loaders may read many files)."""
        return len({(p.file, p.index) for p in self.errors})

    def raise_or_skip(self, skip_invalid: bool) -> LoadResult:
        """Raise the first record error, or with `skip_invalid` count the invalid records as skipped."""
        if self.errors:
            if not skip_invalid:
                raise self.errors[0].to_error()
            self.skipped["invalid"] += self.n_invalid
        return self
