"""A failed statement's error message (what a log shows) holds no value of the statement:
values are device secrets, tokens and, in the journal, requests as they came."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, MetaData, String, Table, insert, text
from sqlalchemy.exc import IntegrityError

from emulator.core.db import make_engine
from emulator.core.sql import HotSql, param

SECRET = "s3cret-value-never-logged"
_T = Table("hidden_values", MetaData(), Column("key", String, primary_key=True))


def test_neither_sqlalchemy_nor_a_hot_statement_puts_values_in_errors() -> None:
    engine = make_engine(":memory:")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE hidden_values (key TEXT PRIMARY KEY)"))
        conn.execute(insert(_T).values(key=SECRET))
    hot = HotSql(insert(_T).values(key=param("key")))
    with engine.begin() as conn, pytest.raises(IntegrityError) as by_sqlalchemy:
        conn.execute(insert(_T).values(key=SECRET))
    with engine.begin() as conn, pytest.raises(IntegrityError) as by_hand:
        hot.execute(conn, {"key": SECRET})
    for caught in (by_sqlalchemy, by_hand):
        assert SECRET not in str(caught.value)
        assert "hidden" in str(caught.value)  # SQLAlchemy says the values were left out
    engine.dispose()
