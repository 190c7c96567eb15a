"""The appointment-request form, its durable outbox and its mailer."""
