"""The benches' shared loading helpers: a database of their own, and CSV streamed to COPY in chunks."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from emms_devstack.bench_data import bench_db_url, copy_chunks


def test_each_bench_database_is_new_on_the_given_server() -> None:
    a, b = bench_db_url("loss", "postgresql://u@db:5433/emms"), bench_db_url("loss", "postgresql://u@db:5433/emms")
    assert a.startswith("postgresql://u@db:5433/emms_bench_loss_") and a != b


@given(st.lists(st.text(alphabet="abc,1", max_size=30).map(lambda s: s + "\n"), max_size=60), st.integers(1, 200))
def test_the_chunks_carry_every_line_once_in_order(lines: list[str], size: int) -> None:
    async def collect() -> list[bytes]:
        return [c async for c in copy_chunks(iter(lines), size)]

    chunks = asyncio.run(collect())
    assert b"".join(chunks) == "".join(lines).encode()
    assert all(chunks)  # no empty chunk reaches COPY
