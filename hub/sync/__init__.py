"""The sync engine: from a won deal's outbox event to a document in the target system.

outbox.py     dispatch pending events to the queue; leases; retry scheduling
queue.py      RQ on REDIS_URL, or an embedded in-process queue
backoff.py    how long failed work waits before it is tried again
run.py        what a job does with the events it leases: pushes to a chain, cancels one by one
push.py       a push batch: prepared, sent (find before create), recorded
push_chain.py a job's push batches one after the other, the target working on one while the next is made
cancel.py     cancel_invoice for one leased event
status.py     read invoice states and payments back
results.py    the one recorder of what a target did with an invoice (links, states, events, audit, runs)
history.py    sync runs, with secrets redacted
registry.py   the connector types the hub ships (a leaf: nothing of the hub)
factory.py    build a connector from a connection (config + decrypted secrets, OAuth services)
oauth_tokens.py  an OAuth connection's tokens: sealed on the row, one refresh at a time (Redis lock)
pacing.py     a connection's requests inside its provider's limits, shared by all workers (Redis)
jobs.py       the functions RQ workers run (they set up the app context)
worker.py     the embedded worker and the scheduler loop
"""
