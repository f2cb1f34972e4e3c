"""Control annotations act once per new value."""

from __future__ import annotations

from modelship.api.rolloutstate import HandledControls
from modelship.rollout.controls import read_controls
from modelship.rollout.types import Control


def test_no_annotations_no_requests() -> None:
    control, handled = read_controls({}, HandledControls())
    assert control == Control()
    assert handled == HandledControls()


def test_a_new_value_acts_once() -> None:
    annotations = {"modelship.io/promote": "1700000000"}
    control, handled = read_controls(annotations, HandledControls())
    assert control.promote == "step"
    again, _ = read_controls(annotations, handled)
    assert again.promote is None
    later, _ = read_controls({"modelship.io/promote": "1700000099"}, handled)
    assert later.promote == "step"


def test_full_promotion_wins_over_a_step() -> None:
    annotations = {"modelship.io/promote": "a", "modelship.io/promote-full": "b"}
    control, _ = read_controls(annotations, HandledControls())
    assert control.promote == "full"


def test_paused_is_a_state_not_a_one_shot() -> None:
    control, handled = read_controls({"modelship.io/paused": "true"}, HandledControls())
    assert control.paused
    control, _ = read_controls({"modelship.io/paused": "true"}, handled)
    assert control.paused
    assert not read_controls({"modelship.io/paused": "false"}, handled)[0].paused


def test_rollback_to_accepts_a_repeat_suffix() -> None:
    control, handled = read_controls({"modelship.io/rollback-to": "abc123"}, HandledControls())
    assert control.rollback_to == "abc123"
    assert read_controls({"modelship.io/rollback-to": "abc123"}, handled)[0].rollback_to is None
    repeat, _ = read_controls({"modelship.io/rollback-to": "abc123:2"}, handled)
    assert repeat.rollback_to == "abc123"


def test_abort_and_retry() -> None:
    control, handled = read_controls(
        {"modelship.io/abort": "x", "modelship.io/retry": "y"}, HandledControls()
    )
    assert control.abort
    assert control.retry
    assert handled.abort == "x"
    assert handled.retry == "y"
