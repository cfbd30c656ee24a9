"""The promote step's words: a new champion names the one it replaced; promoting the champion again
says nothing changed — in the log, and in the job summary of `aicd promote`."""

import io

from aicd.gha import Actions
from aicd.steps.promote import promote, summarize


class Aliases:
    """A registry's champion alias, as the step sees it (resolve a URI, move the alias)."""

    def __init__(self, champion: str | None):
        self.champion = champion

    def resolve(self, uri: str) -> tuple[str, str]:
        return uri.removeprefix("models:/").split("/")[0], uri.rsplit("/", 1)[1]

    def promote(self, name: str, version: str) -> str | None:
        previous, self.champion = self.champion, version
        return previous


def test_promotion_says_what_changed_in_the_log_and_the_summary(tmp_path):
    summary, log = tmp_path / "summary.md", io.StringIO()
    gh = Actions({"GITHUB_STEP_SUMMARY": str(summary)}, stream=log)
    first = promote(Aliases("1"), "", "models:/m/2", gh)
    assert first == ("m", "2", "1") and "m version 2 is now champion (previous-champion: version 1)" in log.getvalue()
    summarize(gh, *first)
    summarize(gh, *promote(Aliases("2"), "", "models:/m/2", gh))
    assert "m version 2 was already champion; nothing changed" in log.getvalue()
    text = summary.read_text()
    assert text.count("## 🏆 aicd promote") == 2 and "was already champion" in text
