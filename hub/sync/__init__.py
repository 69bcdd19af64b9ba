"""The sync engine: from a won deal's outbox event to a document in the target system.

outbox.py     dispatch pending events to the queue; leases; retry scheduling
queue.py      RQ on REDIS_URL, or an embedded in-process queue
push.py       push_invoice / cancel_invoice for a leased batch of events
status.py     read invoice states and payments back
history.py    sync runs, with secrets redacted
connectors.py build a connector from a connection (config + decrypted secrets, OAuth services)
oauth_tokens.py  an OAuth connection's tokens: sealed on the row, one refresh at a time (Redis lock)
pacing.py     a connection's requests inside its provider's limits, shared by all workers (Redis)
jobs.py       the functions RQ workers run (they set up the app context)
worker.py     the embedded worker and the scheduler loop
"""
