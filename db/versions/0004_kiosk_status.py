"""Kiosk heartbeats: one row per kiosk with its latest state (running, camera lost, door
failing, liveness off, stopped), since when, and its last decision, for the console's
Today page. A table of its own: nothing else changes.

Revision ID: 0004
Revises: 0003 (the gate warnings and visitors)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('kiosk_status',
    sa.Column('kiosk_id', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=30), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('beat_at', sa.DateTime(), nullable=False),
    sa.Column('since', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('last_decision_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('kiosk_id', name=op.f('pk_kiosk_status'))
    )


def downgrade() -> None:
    op.drop_table('kiosk_status')
