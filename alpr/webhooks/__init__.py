"""Durable webhooks: every read is written to an outbox in SQLite, then POSTed to each receiver
until it takes it, across receiver outages and restarts of the reader.

    events   what is sent: a read (ReadEvent), a receiver (Target), and the request bodies in
             Plate Recognizer's webhook shape (multipart `json` + `upload`) or ALPR Database's
    outbox   the SQLite outbox (WAL): deliveries, their counters, and one lease per receiver
    sender   the thread that POSTs one receiver's deliveries, with backoff and jitter
    service  Webhooks: the facade the server, `recognize` and `batch` use (send, enqueue_alert, drain)
    cli      the --webhook options, checked before any model loads, and the end-of-run drain

See docs/api.md (Webhooks). Nothing is imported here, so `--help` stays quick.
"""
