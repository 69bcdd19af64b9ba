"""The API answers each web worker keeps while nothing they show has changed (see hub/epochs.py):
the pipeline board and the pages of the customers and deals lists.

These are what everyone opens, over and over, and building one costs several times a look-up: a
page of 50 deals is about 4 ms of CPU (most of it reading and writing out rows), a kept one about
1 ms. Any write through the ORM to a table an answer shows starts a new epoch on commit, so the
writer's next request, and everyone else's, is built afresh. HUB_CACHED_ANSWERS bounds how many
each worker keeps of each kind (0: none); a page of 50 is 20–30 KB, so the default 512 is about
15 MB a kind.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

from flask import Response, current_app

from hub.epochs import Cache, Epoch
from hub.models import Contact, Customer, Deal, Pipeline, Stage, User

# A deal's answers show its customer's, owner's and stage's names (the board its pipeline's too)
# and its contact's id. Deleting a contact or a user clears the deals' and customers' references in
# the database (ON DELETE SET NULL), out of the ORM's sight: their classes are watched for that.
DEALS = Epoch("deals", (Deal, Customer, Contact, User, Stage, Pipeline))
CUSTOMERS = Epoch("customers", (Customer, User))

# No older than this even if a new epoch was lost to a Redis outage during a commit.
MAX_AGE_S = 30.0
BOARD_ANSWERS: Cache[bytes] = Cache(DEALS, MAX_AGE_S)
DEAL_PAGES: Cache[bytes] = Cache(DEALS, MAX_AGE_S)
CUSTOMER_PAGES: Cache[bytes] = Cache(CUSTOMERS, MAX_AGE_S)


def kept_answer(cache: Cache[bytes], key: Hashable, build: Callable[[], Any]) -> Response:
    """The JSON answer kept in `cache` under `key`, else `build()`'s object written out (and kept)."""
    body = cache.get(
        key, lambda: current_app.json.dump_bytes(build()), max_entries=current_app.config["HUB_CACHED_ANSWERS"]
    )
    return current_app.response_class(body, mimetype="application/json")


def args_key(args: Mapping[str, Any]) -> Hashable:
    """A list's parsed query arguments as a cache key: the same filters, sort and page in any order."""
    return tuple(sorted(args.items()))
