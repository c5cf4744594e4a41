"""Model instances from rows read with statements built once, for the order path.

Every order and every ticket page reads the conference, its ticket types and
its add-ons, orders under the conference lock. Compiling those ORM queries on
every call (and ``Model.objects.raw()`` matching columns to fields on every
call) costs more than running them, so this module builds each statement once
per model and turns its rows into instances directly. It relies on two pieces
of Django that are not documented API, which is why it is kept this small:

- ``Model.from_db(alias, field_names, values)``, the constructor the ORM itself
  uses for loaded rows (no ``__init__`` defaults, no signals);
- ``connection.ops.get_db_converters()`` and ``Field.get_db_converters()``,
  which turn what a database answers into what a field holds (SQLite answers
  text for datetimes and numbers for decimals and booleans).

``tests/capacity/test_rows.py`` checks the instances field by field against the
ORM's on both databases. Everything else uses the ORM.
"""

import functools

from django.db import connection, connections


@functools.cache
def select_sql(model, where_column, order_by=()) -> str:
    """``SELECT`` every column of ``model``'s table ``WHERE <where_column> = %s``, built once.

    Quoted as the default database quotes names (the only database Seatkeeper uses).
    """
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in model._meta.concrete_fields)
    sql = f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {quote(where_column)} = %s"
    if order_by:
        columns = [quote(model._meta.get_field(name).column) for name in order_by]
        sql += " ORDER BY " + ", ".join(columns)
    return sql


@functools.lru_cache(maxsize=64)
def _converters(model, database):
    """Per column of ``model``, what turns ``database``'s value into the field's.

    Kept per connection object (one per thread), as Django's converters belong to it.
    """
    converters = []
    for index, model_field in enumerate(model._meta.concrete_fields):
        column = model_field.get_col(model._meta.db_table)
        functions = database.ops.get_db_converters(column) + column.get_db_converters(database)
        if functions:
            converters.append((index, column, functions))
    return converters


def instances_from_rows(model, rows, indexes=None) -> list:
    """Model instances from result rows holding every column of ``model``.

    ``indexes``: where each of the model's columns sits in a row (default: the
    model's own column order). What ``Model.objects.raw()`` does, without its
    per-call work of matching columns to fields.
    """
    database = connections[connection.alias]
    converters = _converters(model, database)
    field_names = [model_field.attname for model_field in model._meta.concrete_fields]
    instances = []
    for row in rows:
        values = [row[index] for index in indexes] if indexes else list(row)
        for index, column, functions in converters:
            for function in functions:
                values[index] = function(values[index], column, database)
        instances.append(model.from_db(database.alias, field_names, values))
    return instances


def fetch_rows(sql, params) -> list:
    """The rows of one statement."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def load_rows(model, sql, params) -> list:
    """Model instances from a statement selecting every column of ``model`` in field order."""
    return instances_from_rows(model, fetch_rows(sql, params))
