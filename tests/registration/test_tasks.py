"""The task queue's periodic jobs (registration/tasks.py), run the way django-q2's
cluster runs them: the schedules from the migration, the scheduler, the worker."""

import importlib
import pydoc
from datetime import timedelta
from multiprocessing import Value

import pytest
from django.apps import apps
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import OrmQ, Schedule, Task
from django_q.monitor import monitor
from django_q.queues import Queue
from django_q.scheduler import scheduler
from django_q.signing import SignedPackage
from django_q.tasks import async_task
from django_q.worker import worker

from registration import services
from registration.models import Order, WaitingListEntry
from tests.factories import make_conference, make_entry, make_order, make_ticket_type

pytestmark = pytest.mark.django_db

SCHEDULED = {
    "registration.tasks.offer_lapsed_seats_task",
    "registration.tasks.send_due_transfer_reminders_task",
}
schedules_migration = importlib.import_module("registration.migrations.0007_schedules")


@pytest.fixture
def line():
    """A sold-out conference of 4 seats: Ada's offer of 2 seats has lapsed, Bob waits
    for 2, and 2 seats are sold."""
    conference = make_conference(total_capacity=4)
    regular = make_ticket_type(conference, name="Regular")
    make_order(conference, Order.Status.PAID, tickets=[(regular, 2)])
    lapsed = make_order(conference, Order.Status.PENDING, hold_minutes=-1, tickets=[(regular, 2)])
    ada = make_entry(
        conference,
        regular,
        2,
        email="ada@example.com",
        status=WaitingListEntry.Status.OFFERED,
        order=lapsed,
        offered_at=timezone.now() - timedelta(days=1),
    )
    bob = make_entry(conference, regular, 2, email="bob@example.com")
    return ada, bob


@pytest.fixture
def queued(settings):
    """Tasks go to the queue (the database), as in production, not run at once."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}


def run_queue_like_the_cluster() -> list[str]:
    """Take the tasks queued now off the broker and run them through django-q2's
    worker and monitor, as the cluster's pusher, workers and monitor do; return
    the functions run. Tasks they queue wait for the next call."""
    broker = get_broker()
    done = []
    for _ in range(broker.queue_size()):
        tasks, results = Queue(), Queue()
        for ack_id, payload in broker.dequeue():
            task = SignedPackage.loads(payload)
            task["ack_id"] = ack_id
            tasks.put(task)
            done.append(task["func"])
        tasks.put("STOP")
        worker(tasks, results, Value("f", -1))
        results.put("STOP")
        monitor(results, broker)
    return done


# Not transactional: pytest-django runs these before any transactional test empties
# the tables, so the rows are the ones migrate wrote.
def test_the_schedules_exist_after_migrate_and_name_task_functions():
    schedules = Schedule.objects.filter(func__in=SCHEDULED)

    assert {schedule.func for schedule in schedules} == SCHEDULED
    for schedule in schedules:
        assert schedule.schedule_type == Schedule.MINUTES
        assert schedule.minutes == 1
        assert schedule.repeats < 0  # for ever
        assert callable(pydoc.locate(schedule.func))


def test_the_schedules_migration_can_run_again_and_repairs_a_changed_schedule():
    Schedule.objects.filter(func__in=SCHEDULED).update(minutes=5)

    schedules_migration.create_schedules(apps, None)
    schedules_migration.create_schedules(apps, None)

    assert Schedule.objects.filter(func__in=SCHEDULED).count() == 2
    assert set(Schedule.objects.filter(func__in=SCHEDULED).values_list("minutes", flat=True)) == {1}


def test_the_job_run_by_django_q_offers_a_lapsed_offers_seats_to_the_next_in_line(
    line, mailoutbox, django_capture_on_commit_callbacks
):
    ada, bob = line

    with django_capture_on_commit_callbacks(execute=True):
        task_id = async_task("registration.tasks.offer_lapsed_seats_task", sync=True)

    ada.refresh_from_db()
    bob.refresh_from_db()
    assert ada.status == WaitingListEntry.Status.EXPIRED
    assert ada.order.status == Order.Status.EXPIRED
    assert bob.status == WaitingListEntry.Status.OFFERED
    assert bob.order.status == Order.Status.PENDING
    assert bob.order.lines.get().quantity == 2
    run = Task.objects.get(id=task_id)
    assert run.success and run.result == 1
    (message,) = mailoutbox
    assert message.to == ["bob@example.com"]
    assert bob.order.get_absolute_url() in message.body


def test_the_job_offers_the_seats_of_a_lapsed_hold(mailoutbox):
    conference = make_conference(total_capacity=2)
    regular = make_ticket_type(conference)
    make_order(conference, Order.Status.PENDING, hold_minutes=-1, tickets=[(regular, 2)])
    cy = make_entry(conference, regular, 2)

    async_task("registration.tasks.offer_lapsed_seats_task", sync=True)

    cy.refresh_from_db()
    assert cy.status == WaitingListEntry.Status.OFFERED


def test_the_job_with_nobody_waiting_offers_nothing():
    conference = make_conference(total_capacity=2)
    make_order(conference, Order.Status.PENDING, hold_minutes=-1)

    task_id = async_task("registration.tasks.offer_lapsed_seats_task", sync=True)

    assert Task.objects.get(id=task_id).result == 0
    assert not WaitingListEntry.objects.exists()


def test_the_reminder_job_run_by_django_q_reminds_a_transfer_that_is_due(
    mailoutbox, django_capture_on_commit_callbacks
):
    conference = make_conference(bank_transfer_days=1)
    regular = make_ticket_type(conference)
    order = services.place_order(
        conference=conference, email="ada@example.com", name="Ada", tickets={regular: 1}
    )
    order = services.choose_bank_transfer(order)
    # Chosen a day ago: the deadline is no longer on the buyer's screen.
    Order.objects.filter(pk=order.pk).update(updated_at=order.updated_at - timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        task_id = async_task("registration.tasks.send_due_transfer_reminders_task", sync=True)
        again = async_task("registration.tasks.send_due_transfer_reminders_task", sync=True)

    assert (Task.objects.get(id=task_id).result, Task.objects.get(id=again).result) == (1, 0)
    (message,) = mailoutbox
    assert message.to == ["ada@example.com"] and order.reference in message.subject


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_queues_the_jobs_and_the_worker_offers_and_emails(line, queued, mailoutbox):
    ada, bob = line
    schedules_migration.create_schedules(apps, None)  # a transactional test starts empty
    Schedule.objects.filter(func__in=SCHEDULED).update(
        next_run=timezone.now() - timedelta(seconds=1)
    )

    scheduler(broker=get_broker())

    assert sorted(task.func() for task in OrmQ.objects.all()) == sorted(SCHEDULED)
    assert sorted(run_queue_like_the_cluster()) == sorted(SCHEDULED)
    bob.refresh_from_db()
    assert bob.status == WaitingListEntry.Status.OFFERED
    assert mailoutbox == []  # the offer's email is queued, not sent by the job itself

    assert run_queue_like_the_cluster() == ["registration.emails.send_waiting_list_offer"]
    (message,) = mailoutbox
    assert message.to == ["bob@example.com"]
    assert OrmQ.objects.count() == 0  # every task acknowledged
    assert Task.objects.filter(success=True).count() == 3
    next_runs = Schedule.objects.filter(func__in=SCHEDULED).values_list("next_run", flat=True)
    assert all(next_run > timezone.now() for next_run in next_runs)
