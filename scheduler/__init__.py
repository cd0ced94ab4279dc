"""The scheduler: the due-item sweep, the outbox and its delivery, and their APScheduler wiring."""
