"""The one revision-history rule every deploy target follows (aicd.deploy.history)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicd.deploy.history import History, NothingToRollBackTo


def deploy(history, n=None, keep=5):
    number = n or history.next_number()
    return history.deployed(number, keep)[0]


def test_two_rollbacks_in_a_row_walk_back_two_releases():
    h = History()
    for _ in range(3):
        h = deploy(h)
    assert (h.kept, h.current, h.previous) == ((1, 2, 3), 3, 2)
    h, retired = h.rolled_back()
    assert (h.current, h.previous, retired) == (2, 1, (3,))
    h, retired = h.rolled_back()
    assert (h.current, h.previous, retired) == (1, None, (2,))
    with pytest.raises(NothingToRollBackTo) as nothing:
        h.rolled_back()
    assert "deploy another revision first" in nothing.value.hint


def test_a_number_is_never_given_twice_after_rollbacks_and_failures():
    h = deploy(deploy(deploy(History())))
    h, _ = h.rolled_back()
    assert h.next_number() == 4  # 3 was retired, never reused
    h = h.started(4)  # 4 fails before it serves
    assert h.kept == (1, 2) and h.next_number() == 5
    assert deploy(h).kept == (1, 2, 5)


def test_only_the_newest_keep_revisions_stay_and_the_rest_are_dropped():
    h = History()
    for _ in range(4):
        h = deploy(h, keep=3)
    new, dropped = h.deployed(5, 3)
    assert (new.kept, dropped) == ((3, 4, 5), (2,))


def test_rollback_to_a_named_revision_retires_everything_above_it():
    h = History((1, 2, 3, 4), 4)
    after, retired = h.rolled_back(2)
    assert (after.kept, retired, after.previous) == ((1, 2), (3, 4), 1)
    for wanted, why in ((4, "it is the one serving"), (9, "it is not kept")):
        with pytest.raises(NothingToRollBackTo, match=f"cannot roll back to revision {wanted}: {why}") as nothing:
            h.rolled_back(wanted)
        assert nothing.value.hint == "revisions that can be returned to: 1, 2, 3 (serving: 4)"


def test_an_unreadable_or_older_state_is_an_empty_history():
    for raw in (None, [], "x", {"kept": "12", "last": "3"}, {"kept": [True, -1, 0], "last": True}):
        assert History.from_json(raw) == History()
    assert History.from_json(History((2, 3), 7).to_json()) == History((2, 3), 7)


@given(st.lists(st.one_of(st.just("deploy"), st.just("fail"), st.just("rollback")), max_size=40),
       st.integers(1, 6))
def test_any_sequence_keeps_numbers_unique_rising_and_bounded(steps, keep):
    h, handed = History(), []
    for step in steps:
        if step == "rollback":
            try:
                h, retired = h.rolled_back()
            except NothingToRollBackTo:
                continue
            assert retired and h.current not in retired
        else:
            number = h.next_number()
            handed.append(number)
            h = h.started(number) if step == "fail" else h.deployed(number, keep)[0]
        assert len(h.kept) <= keep and list(h.kept) == sorted(set(h.kept))
    assert handed == sorted(set(handed))  # never the same number twice


def test_a_local_deploy_of_another_variant_into_a_deployments_state_dir_is_refused(tmp_path):
    """A canary needs its own state-dir: refused before anything is fetched, taken or started."""
    import json
    from dataclasses import asdict
    from pathlib import Path

    from aicd.deploy.local import LocalTarget, Revision
    from aicd.deploy.target import Candidate
    from aicd.errors import ConfigError

    stable = Revision(1, "models:/m/1", "1", "r", "e" * 64, str(tmp_path / "revisions/1/model"), status="serving")
    (tmp_path / "state.json").write_text(json.dumps({"revisions": [asdict(stable)], "current": 1, "previous": None,
                                                     "history": {"kept": [1], "last": 1}}))
    with pytest.raises(ConfigError, match="holds the stable deployment; a canary deployment needs a state-dir"):
        LocalTarget(tmp_path, variant="canary").deploy(Candidate("models:/m/2", Path("/nonexistent"), {}))
    assert json.loads((tmp_path / "state.json").read_text())["history"] == {"kept": [1], "last": 1}
