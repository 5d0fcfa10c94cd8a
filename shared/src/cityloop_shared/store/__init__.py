"""Each service's own database: journal (outbox), inbox, case projection, idempotency keys."""
