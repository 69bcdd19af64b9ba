"""One live invoice per deal, enforced by the database: a partial unique index on invoices(deal_id)
over every state but cancelled. A lost deal's cancelled invoice may stand beside the one it gets
when it is won again; a second live one is refused, whatever code path writes it.

Concurrent "won" requests made such doubles before the deal's row was locked. They are cancelled
here before the index is built: each deal keeps its oldest live invoice, the others are cancelled
(audited), their pushes that never reached a worker are discarded, and every target that may hold
one gets a cancel, as when a won deal is lost. What was cancelled is printed.

Revision ID: 0014_one_live_invoice_per_deal
Revises: 0013_stock_keys_per_pull
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

from hub.models.base import UTCDateTime, utcnow

revision = '0014_one_live_invoice_per_deal'
down_revision = '0013_stock_keys_per_pull'
branch_labels = None
depends_on = None

LIVE = sa.text("state != 'cancelled'")

invoices = sa.table('invoices', sa.column('id'), sa.column('deal_id'), sa.column('number'), sa.column('state'),
                    sa.column('updated_at', UTCDateTime))
outbox = sa.table('outbox', sa.column('id'), sa.column('operation'), sa.column('connection_id'),
                  sa.column('invoice_id'), sa.column('state'), sa.column('attempts'),
                  sa.column('created_at', UTCDateTime), sa.column('available_at', UTCDateTime),
                  sa.column('finished_at', UTCDateTime), sa.column('last_error'))
audit = sa.table('audit_log', sa.column('at', UTCDateTime), sa.column('actor_id'), sa.column('actor'),
                 sa.column('entity'), sa.column('entity_id'), sa.column('action'), sa.column('changes', sa.JSON))


def _cancel_doubles(bind) -> None:
    doubled = bind.execute(
        sa.select(invoices.c.deal_id).where(LIVE).group_by(invoices.c.deal_id).having(sa.func.count() > 1)
    ).scalars().all()
    if not doubled:
        return
    now = utcnow()
    for deal_id in doubled:
        live = bind.execute(
            sa.select(invoices.c.id, invoices.c.number, invoices.c.state)
            .where(invoices.c.deal_id == deal_id, LIVE).order_by(invoices.c.id)
        ).all()
        kept, extra = live[0], live[1:]
        ids = [row.id for row in extra]
        bind.execute(invoices.update().where(invoices.c.id.in_(ids)).values(state='cancelled', updated_at=now))
        bind.execute(audit.insert(), [
            {'at': now, 'actor_id': None, 'actor': 'migration 0014', 'entity': 'invoices', 'entity_id': str(row.id),
             'action': 'update', 'changes': {'state': {'old': row.state, 'new': 'cancelled'}}}
            for row in extra
        ])
        pushes = (outbox.c.operation == 'push_invoice') & outbox.c.invoice_id.in_(ids)
        bind.execute(outbox.update().where(
            pushes, outbox.c.attempts == 0, outbox.c.state.in_(['pending', 'dispatched'])
        ).values(state='discarded', finished_at=now, last_error='discarded: a second invoice for one deal'))
        may_hold = bind.execute(
            sa.select(outbox.c.connection_id, outbox.c.invoice_id).where(pushes, outbox.c.state != 'discarded')
            .distinct()
        ).all()
        if may_hold:
            bind.execute(outbox.insert(), [
                {'operation': 'cancel_invoice', 'connection_id': c, 'invoice_id': i, 'state': 'pending',
                 'attempts': 0, 'created_at': now, 'available_at': now}
                for c, i in may_hold
            ])
        print(f"deal {deal_id}: kept {kept.number}, cancelled {', '.join(str(r.number) for r in extra)}")


def upgrade():
    _cancel_doubles(op.get_bind())
    op.create_index('uq_invoices_live_per_deal', 'invoices', ['deal_id'], unique=True,
                    sqlite_where=LIVE, postgresql_where=LIVE)


def downgrade():
    op.drop_index('uq_invoices_live_per_deal', table_name='invoices')
