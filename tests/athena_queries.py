"""Runs the Athena queries of docs/flowlogs.md over one flow-log file, in DuckDB.

Usage: athena_queries.py DOC LOG IP_RANGES_JSON

Each SQL block of the doc's Athena section is parsed as Athena SQL (sqlglot) and translated to
DuckDB. The tables are loaded as Athena reads them: `vpc_flow_logs` from LOG by column
position (LazySimpleSerDe: split on spaces, header line skipped, a value that is not a number
in a number column is NULL, `-` stays `-` in a string column), with the partition column
`date` set to 2026/11/30; `aws_ip_ranges` from IP_RANGES_JSON. Two Athena functions DuckDB
lacks are stood in for: `CAST(x AS IPADDRESS)` keeps the text, and `contains(cidr, address)`
tests membership with Python's ipaddress module.

Prints one JSON object: for each query, named by the report it answers (`rejects`,
`plaintext`, ...), its rows as objects. Exits 2 when a query does not parse or run.
"""

import ipaddress
import json
import re
import sys

import duckdb
import sqlglot
from sqlglot import exp

PARTITION_DATE = "2026/11/30"


def blocks(doc):
    """The (report name, SQL) pairs of the Athena section, in order."""
    section = doc[doc.index("## The same questions in Athena") :]
    pairs = []
    for match in re.finditer(r"```sql\n(.*?)```", section, re.S):
        before = section[: match.start()]
        names = re.findall(r"`([a-z0-9_]+\[\]|time_range)`", before)
        pairs.append((names[-1].removesuffix("[]") if names else "table", match.group(1)))
    return pairs


def athena(sql):
    """`sql` with the IPADDRESS cast taken out and `contains` renamed, then parsed."""
    sql = re.sub(r"\s+AS\s+IPADDRESS\s*\)", " AS VARCHAR)", sql)
    sql = re.sub(r"\bcontains\(", "ip_in_prefix(", sql)
    # One statement at a time: Athena reads DDL as Hive and queries as Trino.
    statements = [part for part in re.split(r";\s*\n", sql) if part.strip()]
    return [sqlglot.parse_one(statement, read="athena") for statement in statements]


def ip_in_prefix(prefix, address):
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return False


def columns(create):
    """The column names and DuckDB types of a parsed CREATE TABLE."""
    schema = create.this
    return [
        (column.name, column.args["kind"].sql(dialect="duckdb"))
        for column in schema.expressions
        if isinstance(column, exp.ColumnDef)
    ]


def load_flow_logs(con, create, log):
    cols = columns(create)
    with open(log) as file:
        header = file.readline().split()
    names = [name.replace("-", "_") for name in header]
    if names != [name for name, _ in cols]:
        raise SystemExit(
            f"the table's columns are not the log's, in order:\n"
            f"  table: {[name for name, _ in cols]}\n  log:   {names}"
        )
    raw = ", ".join(f"'column{index:02d}': 'VARCHAR'" for index in range(len(cols)))
    con.execute(
        f"CREATE TABLE raw AS SELECT * FROM read_csv(?, delim=' ', header=false, "
        f"skip=1, columns={{{raw}}}, quote='', escape='')",
        [log],
    )
    select = ", ".join(
        f"TRY_CAST(column{index:02d} AS {kind}) AS \"{name}\""
        if kind != "TEXT"
        else f"column{index:02d} AS \"{name}\""
        for index, (name, kind) in enumerate(cols)
    )
    con.execute(
        f"CREATE TABLE vpc_flow_logs AS SELECT {select}, '{PARTITION_DATE}' AS \"date\" FROM raw"
    )


def load_ip_ranges(con, create, ranges):
    names = ", ".join(name for name, _ in columns(create))
    con.execute(f"CREATE TABLE aws_ip_ranges AS SELECT {names} FROM read_json(?)", [ranges])


def main():
    doc_path, log, ranges = sys.argv[1:4]
    with open(doc_path) as file:
        doc = file.read()
    con = duckdb.connect()
    con.create_function(
        "ip_in_prefix", ip_in_prefix, ["VARCHAR", "VARCHAR"], "BOOLEAN"
    )
    results = {}
    for name, sql in blocks(doc):
        try:
            statements = athena(sql)
        except sqlglot.errors.ParseError as error:
            print(f"{name}: not Athena SQL: {error}", file=sys.stderr)
            sys.exit(2)
        for statement in statements:
            if isinstance(statement, exp.Create) and statement.kind == "VIEW":
                con.execute(statement.sql(dialect="duckdb"))
                continue
            if isinstance(statement, exp.Create):
                table = statement.this.this.name
                if table == "vpc_flow_logs":
                    load_flow_logs(con, statement, log)
                elif table == "aws_ip_ranges":
                    load_ip_ranges(con, statement, ranges)
                else:
                    print(f"{name}: unknown table {table}", file=sys.stderr)
                    sys.exit(2)
                continue
            query = statement.sql(dialect="duckdb")
            try:
                cursor = con.execute(query)
            except duckdb.Error as error:
                print(f"{name}: {error}\n{query}", file=sys.stderr)
                sys.exit(2)
            keys = [description[0] for description in cursor.description]
            rows = [dict(zip(keys, row)) for row in cursor.fetchall()]
            results[name] = rows
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
