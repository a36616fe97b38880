"""`sql`: run statements on a DuckDB database file (real ETL for the data pipeline example).

Each statement runs in order on one connection, in a worker thread. Named
parameters (`$name`) are bound by DuckDB, never spliced into the text. Output:
per statement either `rows_affected` or a small result (`columns`, up to
`max_rows` rows as objects, `row_count`), plus `rows` of the last statement.
Unless `EngineConfig.unrestricted_files`, the database must live in the step's
workspace's part of the server's sandbox directory (engine.sandbox_dir; a relative
path is taken inside it; without a sandbox only ':memory:' is possible) and DuckDB
itself is locked to that directory (external access off, it as the only allowed
directory, configuration locked), so SQL cannot read or write anywhere else, in
either `read_only` mode. Cancellation interrupts
the running query.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import re
import uuid
from pathlib import Path
from typing import Any

import duckdb
from flowscope.engine.actions.registry import ActionError, StepContext
from flowscope.engine.sandbox_dir import OutsideSandbox, confine, workspace_dir
from pydantic import BaseModel, ConfigDict, Field

_PARAM_RE = re.compile(r"\$([A-Za-z_]\w*)")


class SqlParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    database: str = Field(..., min_length=1, max_length=4096, description="DuckDB file (':memory:' ok).")
    sql: str | list[str] = Field(..., description="One statement or a list run in order.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Values for $name placeholders.")
    max_rows: int = Field(100, ge=0, le=10_000, description="Result rows kept in the output.")
    read_only: bool = False


def _json_cell(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID | bytes | bytearray):
        return value.hex() if isinstance(value, bytes | bytearray) else str(value)
    if isinstance(value, list):
        return [_json_cell(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_cell(v) for k, v in value.items()}
    return value


def resolve_database(raw: str, step: StepContext) -> str:
    """The database file a step may open: in its workspace's part of the sandbox unless
    files are unrestricted."""
    if raw == ":memory:":
        return raw
    config = step.config
    if config.unrestricted_files:
        path = Path(raw).expanduser()
        if not path.is_absolute() and step.base_dir is not None:
            path = step.base_dir / path
        return str(path.resolve())
    if config.sandbox_dir is None:
        raise ActionError("no sandbox directory is configured: only ':memory:' databases are allowed")
    try:
        return str(confine(raw, workspace_dir(config.sandbox_dir, step.workspace_id), what="database"))
    except OutsideSandbox as exc:
        raise ActionError(str(exc)) from None


def sql_string(text: str) -> str:
    """`text` as a SQL string literal, for the few places DuckDB takes no bound parameter."""
    return "'" + text.replace("'", "''") + "'"


def connect_confined(database: str, step: StepContext, *, read_only: bool) -> Any:
    """A DuckDB connection that can reach no file outside the step's workspace's part of the
    sandbox (none without a sandbox). Used for every database a step names, also by Python
    helpers (a database's views run SQL too)."""
    con = duckdb.connect(database, read_only=read_only)
    if step.config.unrestricted_files:
        return con
    sandbox = step.config.sandbox_dir
    allowed = workspace_dir(sandbox, step.workspace_id) if sandbox is not None else None
    dirs = sql_string(f"{allowed}/") if allowed is not None else ""
    try:
        con.execute(f"SET allowed_directories = [{dirs}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except duckdb.Error:
        # Another open connection to the same file (DuckDB shares one instance per file
        # in a process) already locked the configuration; accept it only if locked down to
        # this directory (DuckDB adds the database's own '<db>.tmp/' there).
        row = con.execute(
            "SELECT current_setting('enable_external_access'), current_setting('allowed_directories')"
        ).fetchone()
        prefix = f"{allowed}/" if allowed is not None else None
        confined = row is not None and row[0] is False
        if not confined or not all(prefix and str(d).startswith(prefix) for d in row[1]):  # type: ignore[index]
            con.close()
            raise
    return con


def _count_rest(cur: Any) -> int:
    rest = 0
    while chunk := cur.fetchmany(10_000):
        rest += len(chunk)
    return rest


def _run(con: Any, params: SqlParams) -> dict[str, Any]:
    statements = [params.sql] if isinstance(params.sql, str) else list(params.sql)
    results: list[dict[str, Any]] = []
    for text in statements:
        used = {
            name: params.parameters[name] for name in _PARAM_RE.findall(text) if name in params.parameters
        }
        cur = con.execute(text, used) if used else con.execute(text)
        if cur.description is None:
            results.append({"rows_affected": 0})
            continue
        columns = [d[0] for d in cur.description]
        rows = cur.fetchmany(params.max_rows + 1) if params.max_rows else []
        if columns == ["Count"] and len(rows) == 1:
            results.append({"rows_affected": int(rows[0][0])})
            continue
        if columns == ["Success"] and not rows:  # ATTACH, SET, ... report only success
            results.append({"rows_affected": 0})
            continue
        fetched = len(rows)
        truncated = fetched > params.max_rows
        rows = rows[: params.max_rows]
        # Count the rest without keeping it (cheap for the small results this action is for).
        rest = _count_rest(cur) if truncated else 0
        results.append(
            {
                "columns": columns,
                "rows": [{k: _json_cell(v) for k, v in zip(columns, r, strict=False)} for r in rows],
                "row_count": fetched + rest,
                "truncated": truncated,
            }
        )
    last = results[-1] if results else {}
    return {"statements": results, "rows": last.get("rows", []), "rows_affected": last.get("rows_affected")}


async def sql_action(params: SqlParams, ctx: StepContext) -> Any:
    database = resolve_database(params.database, ctx)
    loop = asyncio.get_running_loop()
    try:
        con = await loop.run_in_executor(
            None, lambda: connect_confined(database, ctx, read_only=params.read_only)
        )
    except duckdb.Error as exc:
        raise ActionError(f"{type(exc).__name__}: {exc}") from None

    def work() -> dict[str, Any]:
        try:
            out = _run(con, params)
            out["database"] = database
            return out
        except duckdb.Error as exc:
            raise ActionError(f"{type(exc).__name__}: {exc}") from None
        finally:
            con.close()

    future = loop.run_in_executor(None, work)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        con.interrupt()  # the worker thread then fails fast and closes the connection
        # Nobody awaits the abandoned future any more: consume its (interrupt) exception.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        raise
