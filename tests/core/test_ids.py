"""Seeded ids (core/ids.py): draws a request cannot use are given back."""

from __future__ import annotations

import pytest

from emulator.core.ids import Ids


def _create_draws(ids: Ids) -> None:
    ids.lower_alnum(10)
    ids.alnum(8)
    ids.device_secret()


@pytest.mark.parametrize("before", [0, 1, 255, 256, 300, 1000])
def test_draws_given_back_come_again_as_if_never_drawn(before: int) -> None:
    # `before` draws of 2 words each: some put a snapshot of the generator inside the block.
    given_back, untouched = Ids(7, "ns"), Ids(7, "ns")
    for ids in (given_back, untouched):
        for _ in range(before):
            ids.alnum(5)
    with given_back.drawing() as drawn:
        _create_draws(given_back)
    given_back.give_back(drawn)

    assert [given_back.alnum(13) for _ in range(300)] == [untouched.alnum(13) for _ in range(300)]


def test_draws_followed_by_another_requests_stay_drawn() -> None:
    ids, untouched = Ids(7, "ns"), Ids(7, "ns")
    with ids.drawing() as drawn:
        _create_draws(ids)
    ids.uuid()  # another request's draw, after the block's: what follows it is used already
    ids.give_back(drawn)
    _create_draws(untouched)
    untouched.uuid()

    assert [ids.alnum(13) for _ in range(10)] == [untouched.alnum(13) for _ in range(10)]


def test_draws_of_before_a_reseed_are_not_given_back() -> None:
    """A reset reseeds the namespace's ids while a failed create still holds its draws: once
    the new sequence has reached the same count, giving them back would rewind it onto ids
    already handed out."""
    ids, untouched = Ids(7, "ns"), Ids(7, "ns")
    with ids.drawing() as drawn:
        _create_draws(ids)
    ids.reseed(7, "ns")
    untouched.reseed(7, "ns")
    for sequence in (ids, untouched):
        _create_draws(sequence)  # the same count of words as the block drew
    ids.give_back(drawn)

    assert [ids.alnum(13) for _ in range(10)] == [untouched.alnum(13) for _ in range(10)]
