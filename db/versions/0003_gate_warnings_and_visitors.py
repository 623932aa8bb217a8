"""Issue 26: enrollment warnings kept with each template (a photo the gate accepts but
that might match less well - blurred, dim, turned, a second face - is stored with the
words it was shown with), and visitors (a person flagged as a visitor is listed apart
from staff and erased by the retention job when the pass ends).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMN (SQLite supports it with a constant default): a batch would copy
    # and drop ``people``, which the foreign keys of templates and events forbid
    op.add_column('templates', sa.Column('warnings', sa.String(length=500), nullable=True))
    op.add_column(
        'people', sa.Column('visitor', sa.Boolean(), server_default=sa.false(), nullable=False)
    )


def downgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_column('visitor')
    with op.batch_alter_table('templates', schema=None) as batch_op:
        batch_op.drop_column('warnings')
