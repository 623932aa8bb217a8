"""Integrity: names and badges in the event chain, a chained operators' log, an
authenticated chain head, sealed accounts, people, groups and templates, disabled
accounts, and the content hash of enrolled photos.

The MACs need the encryption key, which is not in the database, so this migration only
adds the columns (all nullable, or with a default) and the operators' chain head; the
first start with the key seals and re-chains the existing rows once
(kiosk/storage/upgrade.py).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('person_badge', sa.String(length=100), nullable=True))

    with op.batch_alter_table('chain_head', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mac', sa.String(length=64), nullable=True))
    # the operators' actions get a chain of their own (head id 2)
    op.execute("INSERT INTO chain_head (id, last_id, last_hash) VALUES (2, 0, '" + "0" * 64 + "')")

    with op.batch_alter_table('admin_actions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_admin_actions_target_id', ['target', 'id'], unique=False)

    with op.batch_alter_table('admins', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('disabled', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column('generation', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('seal', sa.String(length=64), nullable=True))

    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seal', sa.String(length=64), nullable=True))

    with op.batch_alter_table('templates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('seal', sa.String(length=64), nullable=True))
        batch_op.create_index(
            'ix_templates_person_content', ['person_id', 'content_sha256'], unique=False
        )

    op.create_table('access_groups',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('seal', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_access_groups'))
    )


def downgrade() -> None:
    op.drop_table('access_groups')
    with op.batch_alter_table('templates', schema=None) as batch_op:
        batch_op.drop_index('ix_templates_person_content')
        batch_op.drop_column('seal')
        batch_op.drop_column('content_sha256')
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_column('seal')
    with op.batch_alter_table('admins', schema=None) as batch_op:
        batch_op.drop_column('seal')
        batch_op.drop_column('generation')
        batch_op.drop_column('disabled')
    with op.batch_alter_table('admin_actions', schema=None) as batch_op:
        batch_op.drop_index('ix_admin_actions_target_id')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
    op.execute("DELETE FROM chain_head WHERE id = 2")
    with op.batch_alter_table('chain_head', schema=None) as batch_op:
        batch_op.drop_column('mac')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('person_badge')
        batch_op.drop_column('person_name')
