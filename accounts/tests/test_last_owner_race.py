"""Two owners demoting each other at the same moment must not leave a home without an owner."""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection, connections

from accounts import actions
from accounts.models import Membership, Role

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_demotions_keep_an_owner(alice, bob, home):
    Membership.objects.filter(user=bob, home=home).update(role=Role.OWNER)
    targets = list(Membership.objects.filter(home=home, role=Role.OWNER))
    assert len(targets) == 2
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(membership: Membership) -> None:
        try:
            start.wait()
            actions.do_change_role(membership, Role.MEMBER)
            outcomes.append("demoted")
        except actions.ActionError:
            outcomes.append("refused")
        except OperationalError:
            # SQLite has no row locks: the loser's write fails as "database is locked".
            outcomes.append("locked")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=demote, args=(m,)) for m in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert Membership.objects.filter(home=home, role=Role.OWNER).count() == 1
    assert sorted(outcomes)[0] == "demoted" and len(outcomes) == 2
    if connection.vendor == "postgresql":
        # The owner rows are locked: the second demotion waits, then sees the last owner.
        assert sorted(outcomes) == ["demoted", "refused"]
