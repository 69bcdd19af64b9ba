"""The services layer: what the hub does, once, for every caller.

A view of the API and a page for the same action parse their input (the API's schemas), call one
function here and render what it returns. The function owns the transaction: it commits, and
after the commit hands what it wrote to the queue, so the API and the pages behave alike. It
raises `hub.errors` (404, 409, 422 by field) and knows nothing of requests or templates; it
imports models and the layers below, never `hub.api` or `hub.ui`.
"""
