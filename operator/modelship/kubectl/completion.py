"""`kubectl_complete-modelship`: what kubectl (1.26+) runs to complete `kubectl modelship
<TAB>`. kubectl passes the words typed after the plugin's name, the last one the word being
completed; the answer is one candidate per line and a last line `:4` (Cobra's "no file
completion" directive). The candidates come from argcomplete over the plugin's own parser."""

from __future__ import annotations

import io
import os
import shlex
import sys
from collections.abc import Sequence

import argcomplete.io
from argcomplete.finders import CompletionFinder

from modelship.kubectl.main import build_parser

NO_FILE_COMPLETION = 4


class _Finder(CompletionFinder):
    def _init_debug_stream(self) -> None:
        # argcomplete's default takes over file descriptor 9, which may be anyone's here.
        argcomplete.io.debug_stream = sys.stderr


def _return(code: int = 0) -> None:
    """argcomplete exits once it has written the candidates; here it returns instead."""


def candidates(words: Sequence[str]) -> list[str]:
    """Completions of the last of `words` (the words after `kubectl modelship`)."""
    *before, current = list(words) or [""]
    line = " ".join(["kubectl-modelship", *(shlex.quote(w) for w in before), current])
    saved = dict(os.environ)
    os.environ.update(
        {
            "_ARGCOMPLETE": "1",
            "COMP_LINE": line,
            "COMP_POINT": str(len(line)),
            "_ARGCOMPLETE_IFS": "\n",
            "_ARGCOMPLETE_SHELL": "bash",
        }
    )
    out = io.StringIO()
    try:
        _Finder()(
            build_parser(),
            always_complete_options=False,
            exit_method=_return,
            output_stream=out,
            append_space=False,
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return [c for c in out.getvalue().split("\n") if c]


def main(argv: Sequence[str] | None = None) -> int:
    for candidate in candidates(sys.argv[1:] if argv is None else argv):
        print(candidate)
    print(f":{NO_FILE_COMPLETION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
