"""Stack ceiling: how many commands per second this machine answers on the services' stack.

    uv run python bench/stack_ceiling.py --requests 6000 --concurrency 80

Serves three endpoints from two uvicorn processes, run as the services run (FastAPI,
uvloop, httptools), and drives each with the closed-loop driver's client (aiohttp on
uvloop) on the same machine:

- ``empty``: validates a small JSON body and answers; HTTP and nothing else;
- ``write``: also inserts one row into PostgreSQL and commits, through psycopg directly,
  as the services' PostgreSQL adapter does;
- ``write-sqlalchemy``: the same insert and commit through SQLAlchemy's async engine, the
  way the services reached their database before that adapter: what going round it saves.

A closed case takes eight commands, so requests per second divided by eight is the most
closed cases per second the stack could carry if a command were only this, before one
event is relayed, consumed or folded. The script also reports each process's CPU per
request, read from ``/proc``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import aiohttp
import cpu_use
import progress
import psycopg
import uvicorn
import uvloop
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from cityloop_deploy import localstack
from cityloop_shared.adapters.postgres import libpq_url

COMMANDS_PER_CASE = 8
"""report, accept, register, dispatch, take, complete, check, close (bench/closed_loop.py)."""
CONNECTIONS = 10
SERVERS = 2
BASE_PORT = 18980
ENDPOINTS = ("empty", "write", "write-sqlalchemy")
WARM_UP = 500
"""Requests sent before the clock starts; their CPU is counted with the measured ones."""
BODY = {"description": "暴露垃圾", "category_code": "06001"}


class Report(BaseModel):
    description: str
    category_code: str


def ceiling_app(database_url: str, schema: str) -> FastAPI:
    """One process's endpoints; each write is its own transaction, committed before answering."""
    connections: asyncio.Queue[psycopg.AsyncConnection[object]] = asyncio.Queue()
    engine = create_async_engine(database_url, pool_size=CONNECTIONS, max_overflow=0)
    table = f'"{schema}".reports (description, category_code)'
    insert_sql = f"INSERT INTO {table} VALUES (%s, %s)"
    insert_core = text(f"INSERT INTO {table} VALUES (:d, :c)")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for _ in range(CONNECTIONS):
            connections.put_nowait(await psycopg.AsyncConnection.connect(libpq_url(database_url)))
        yield
        while not connections.empty():
            await connections.get_nowait().close()
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/empty")
    async def empty(report: Report) -> dict[str, str]:
        return {"category_code": report.category_code}

    @app.post("/write")
    async def write(report: Report) -> dict[str, str]:
        conn = await connections.get()
        try:
            await conn.execute(insert_sql, (report.description, report.category_code))
            await conn.commit()
        finally:
            connections.put_nowait(conn)
        return {"category_code": report.category_code}

    @app.post("/write-sqlalchemy")
    async def write_sqlalchemy(report: Report) -> dict[str, str]:
        async with engine.begin() as conn:
            await conn.execute(insert_core, {"d": report.description, "c": report.category_code})
        return {"category_code": report.category_code}

    return app


async def drive(endpoint: str, requests: int, concurrency: int) -> float:
    """Requests per second for ``endpoint``, spread over the servers, after a warm-up."""
    sessions = [
        aiohttp.ClientSession(
            f"http://127.0.0.1:{BASE_PORT + number}",
            connector=aiohttp.TCPConnector(limit=concurrency),
        )
        for number in range(SERVERS)
    ]
    gate = asyncio.Semaphore(concurrency)
    warm_up = min(WARM_UP, requests)

    async def one(number: int, sent: progress.Phase) -> None:
        async with gate, sessions[number % SERVERS].post(f"/{endpoint}", json=BODY) as response:
            if response.status != 200:
                raise RuntimeError(f"{endpoint}: {response.status} {await response.text()}")
            await response.read()
        sent.advance()

    try:
        with progress.phase(f"/{endpoint}", total=warm_up + requests, unit="requests") as sent:
            await asyncio.gather(*(one(number, sent) for number in range(warm_up)))
            began = time.perf_counter()
            await asyncio.gather(*(one(number, sent) for number in range(requests)))
            return requests / (time.perf_counter() - began)
    finally:
        for session in sessions:
            await session.close()


def wait_until_serving(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {server.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing answers on port {port}")


def serve(port: int, database_url: str, schema: str) -> None:
    uvicorn.run(
        ceiling_app(database_url, schema),
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


def measure(
    database_url: str,
    requests: int,
    concurrency: int,
    endpoints: tuple[str, ...] = ENDPOINTS,
) -> dict[str, Any]:
    schema = f"ceiling_{uuid4().hex[:8]}"
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(
            f'CREATE TABLE "{schema}".reports '
            "(id bigserial PRIMARY KEY, description text NOT NULL, category_code text NOT NULL)"
        )
    servers = [
        subprocess.Popen(
            [sys.executable, __file__, "serve", str(BASE_PORT + number), database_url, schema]
        )
        for number in range(SERVERS)
    ]
    results: dict[str, Any] = {}
    try:
        for number, server in enumerate(servers):
            wait_until_serving(BASE_PORT + number, server)
        watched = cpu_use.local_stack(
            {os.getpid(): "driver"} | {server.pid: "servers" for server in servers}
        )
        for endpoint in endpoints:
            before = cpu_use.reading(watched)
            per_second = uvloop.run(drive(endpoint, requests, concurrency))
            used = cpu_use.spent(before, cpu_use.reading(watched))
            sent = requests + min(WARM_UP, requests)
            results[endpoint] = {
                "requests_per_second": round(per_second),
                "closed_cases_per_second_ceiling": round(per_second / COMMANDS_PER_CASE),
                "cpu_ms_per_request": {
                    name: round(1000 * seconds / sent, 3) for name, seconds in used.items()
                },
            }
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
        with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return results


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        port, database_url, schema = sys.argv[2:5]
        serve(int(port), database_url, schema)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=80)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    stack = localstack.Stack.from_env()
    localstack.up(stack)
    results = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "servers": SERVERS,
        **measure(stack.settings.database_url, args.requests, args.concurrency),
    }
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
