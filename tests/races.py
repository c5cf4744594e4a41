"""The race harness: real threads, each with its own database connection, released together."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection


@dataclass
class RaceOutcome:
    won: list = field(default_factory=list)
    refused: list = field(default_factory=list)
    crashed: list = field(default_factory=list)


def race(contenders: int, attempt: Callable[[int], object]) -> RaceOutcome:
    """Run ``attempt(i)`` in ``contenders`` threads released together by a barrier.

    Each thread opens its own database connection before the start and closes
    it at the end. ValidationErrors are refusals; anything else is a crash,
    which fails the race.
    """
    barrier = threading.Barrier(contenders)
    outcome = RaceOutcome()
    record = threading.Lock()

    def contender(index):
        try:
            connection.ensure_connection()
            barrier.wait(timeout=10)
            result = attempt(index)
        except ValidationError as error:
            with record:
                outcome.refused.append(error)
        except Exception as error:  # noqa: BLE001 - reported by the test
            with record:
                outcome.crashed.append(error)
        else:
            with record:
                outcome.won.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a contender hung"
    assert outcome.crashed == []
    return outcome
