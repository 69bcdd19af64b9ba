"""The customer of an invoice as a Tryton party, and a push's look-up of all its documents at once.

Tryton's rules followed here
- the party is the one with the customer's tax id (a `party.identifier` code), else the one named
  exactly like the customer (the oldest should there be several), else a new one with its address,
  e-mail and phone (contact mechanisms) and tax id;
- an invoice needs an invoice address: a found party without one gets the customer's address first;
- a party the mapping names (table parties) is used as it is, with its first address.

A push looks up the products and customers of all its documents in a few calls (`_look_up_batch`)
and creates the customers Tryton lacks in one call once every document has passed its checks
(`NewParty` stands for one until then).
"""

from __future__ import annotations

from typing import Any

from connectors.documents import InvoiceDocument
from connectors.errors import PermanentError
from connectors.tryton.lookups import BatchLookups, NewParty, TrytonLookups


class TrytonParties(TrytonLookups):
    """Parties found, kept and created; the push's look-ups of its products and parties."""

    def _look_up_batch(self, docs: list[InvoiceDocument]) -> BatchLookups:
        batch = BatchLookups()
        skus: set[str] = set()
        tax_ids: set[str] = set()
        names: set[str] = set()
        for doc in docs:
            mapped = self.map_document(doc)
            batch.mapped[doc.idempotency_key] = mapped
            skus.update(line["sku"] for line in mapped.get("lines", []) if isinstance(line.get("sku"), str))
            if mapped.get("party") is None:
                names.add(doc.customer.name)
                if doc.customer.tax_id:
                    tax_ids.add(doc.customer.tax_id)
        batch.products = self._find_products(skus)
        # Parties: those an earlier push found (with an address to invoice), the rest asked for.
        tax_ids = {t for t in tax_ids if not self._known_party("party tax id", t, batch.by_tax_id)}
        names = {n for n in names if not self._known_party("party name", n, batch.by_name)}
        if tax_ids:
            identifiers = self.search_read("party.identifier", [["code", "in", sorted(tax_ids)]], ["code", "party"])
            parties = self._parties([["id", "in", sorted({i["party"] for i in identifiers})]])
            for identifier in sorted(identifiers, key=lambda i: i["party"]):
                batch.by_tax_id.setdefault(identifier["code"], parties[identifier["party"]])
        if names:
            for party in self._parties([["name", "in", sorted(names)]]).values():
                batch.by_name.setdefault(party["name"], party)
        for kind, found in (("party tax id", batch.by_tax_id), ("party name", batch.by_name)):
            for key, party in found.items():
                if party["addresses"]:  # one without gets an address from the push first
                    self._lookups.put((kind, key), party)
        return batch

    def _known_party(self, kind: str, key: str, into: dict[str, Any]) -> bool:
        """Put the party an earlier push found by this tax id or name into the batch's, if any."""
        hit = self._kept((kind, key))
        if hit is None:
            return False
        into[key] = hit[0]
        return True

    def _parties(self, domain: list[Any]) -> dict[int, dict[str, Any]]:
        rows = self.search_read("party.party", domain, ["id", "name", "addresses"], order=[["id", "ASC"]])
        return {row["id"]: row for row in rows}

    def _party_by_id(self, party_id: int) -> tuple[int, int]:
        """A party the mapping names (table parties) and its first address."""
        rows = self.call("model.party.party.read", [party_id], ["id", "addresses"]) if party_id > 0 else []
        if not rows:
            raise PermanentError(f"Tryton has no party {party_id} (table parties of the mapping)", field="party")
        if not rows[0]["addresses"]:
            raise PermanentError(f"Tryton party {party_id} has no address to invoice", field="party")
        return party_id, rows[0]["addresses"][0]

    def party_for(self, doc: InvoiceDocument, *, dry_run: bool = False) -> tuple[Any, Any]:
        """(party id, invoice address id): the party with the customer's tax id, else the one named
        exactly like it, else a new one (in a dry run, a note that the push creates it; in a batch,
        a placeholder until the batch's new parties are created together)."""
        customer = doc.customer
        match = self._matching_party(customer.tax_id, customer.name)
        if isinstance(match, NewParty):
            return match, match
        if match:
            party_id, addresses = match["id"], match["addresses"]
            if addresses:
                return party_id, addresses[0]
            if dry_run:
                return party_id, "(new address, created by the push)"
            (address,) = self.call(
                "model.party.address.create", [{"party": party_id, **self._address(doc)}], changes_data=True
            )
            return party_id, address
        if dry_run:
            note = f"(new party {customer.name!r}, created by the push)"
            return note, note
        if self._batch is not None:
            new = NewParty(doc)
            self._batch.by_name.setdefault(customer.name, new)
            if customer.tax_id:
                self._batch.by_tax_id.setdefault(customer.tax_id, new)
            return new, new
        ((party_id, address),) = self._create_parties([doc])
        return party_id, address

    def _create_parties(self, docs: list[InvoiceDocument]) -> list[tuple[int, int]]:
        """New parties for the documents' customers, with address, contacts and tax id; one call."""
        values = []
        for doc in docs:
            customer = doc.customer
            contacts = [{"type": "email", "value": customer.email}] if customer.email else []
            if customer.phone:
                contacts.append({"type": "phone", "value": customer.phone})
            values.append(
                {
                    "name": customer.name,
                    "addresses": [["create", [self._address(doc)]]],
                    "contact_mechanisms": [["create", contacts]] if contacts else [],
                    "identifiers": [["create", [{"code": customer.tax_id}]]] if customer.tax_id else [],
                }
            )
        ids = self.call("model.party.party.create", values, changes_data=True)
        addresses = {r["id"]: r["addresses"][0] for r in self.call("model.party.party.read", ids, ["addresses"])}
        for doc, party_id in zip(docs, ids, strict=True):  # the next pushes find them here
            party = {"id": party_id, "name": doc.customer.name, "addresses": [addresses[party_id]]}
            self._lookups.put(("party name", doc.customer.name), party)
            if doc.customer.tax_id:
                self._lookups.put(("party tax id", doc.customer.tax_id), party)
        return [(i, addresses[i]) for i in ids]

    def _create_new_parties(self, values: list[dict[str, Any]]) -> None:
        """Create the parties a batch's payloads wait for, all in one call, and fill them in."""
        waiting = list(dict.fromkeys(v["party"] for v in values if isinstance(v["party"], NewParty)))
        if not waiting:
            return
        made = dict(zip(waiting, self._create_parties([new.doc for new in waiting]), strict=True))
        for v in values:
            if isinstance(v["party"], NewParty):
                v["party"], v["invoice_address"] = made[v["party"]]

    def _matching_party(self, tax_id: str | None, name: str) -> dict[str, Any] | NewParty | None:
        """The party with this tax id, else the one named exactly so (in a batch, maybe one that the
        batch is about to create)."""
        if self._batch:
            return (self._batch.by_tax_id.get(tax_id) if tax_id else None) or self._batch.by_name.get(name)
        rows = []
        if tax_id:
            rows = self.search_read(
                "party.party", [["identifiers.code", "=", tax_id]], ["id", "addresses"], limit=1, order=[["id", "ASC"]]
            )
        rows = rows or self.search_read(
            "party.party", [["name", "=", name]], ["id", "addresses"], limit=1, order=[["id", "ASC"]]
        )
        return rows[0] if rows else None

    def _address(self, doc: InvoiceDocument) -> dict[str, Any]:
        a = doc.customer.address
        values: dict[str, Any] = {"street": a.street or "", "city": a.city or "", "postal_code": a.postal_code or ""}
        if a.country:

            def load():
                rows = self.search_read("country.country", [["code", "=", a.country]], ["id"], limit=1)
                return rows[0]["id"] if rows else None

            country = self._cached(("country", a.country), load)
            if country is not None:
                values["country"] = country
        return values
