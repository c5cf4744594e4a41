"""Reading and writing model rows with statements built once.

The order path runs on every order, much of it under the conference lock.
Compiling the same ORM queries on every call (and ``raw()`` matching columns to
fields on every call) cost more than running them, so the statements of that
path are built once per model and rows are turned into instances directly.
Everything else keeps using the ORM.
"""

import functools

from django.db import connection, connections


@functools.cache
def select_sql(model, where_column, order_by=()) -> str:
    """``SELECT`` every column of ``model``'s table ``WHERE <where_column> = %s``, built once."""
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

    SQLite answers text for datetimes and numbers for decimals and booleans;
    PostgreSQL's driver already answers Python values for most columns. Kept
    per connection object (one per thread), as Django's converters belong to it.
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


def run_together(statements) -> list[list]:
    """The rows of each ``(sql, params)`` statement, in order.

    On PostgreSQL they go to the server in one round trip: the driver binds
    parameters on the client, so several statements separated by semicolons
    can be sent at once. Each still runs as a statement of its own, with its
    own snapshot, so a statement placed after the conference lock sees every
    change committed before the lock was granted. Elsewhere they run one by one.
    """
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            results = []
            for sql, params in statements:
                cursor.execute(sql, params)
                results.append(cursor.fetchall())
            return results
        cursor.execute(
            "; ".join(sql for sql, _ in statements),
            [param for _, params in statements for param in params],
        )
        results = [cursor.fetchall()]
        while cursor.nextset():
            results.append(cursor.fetchall())
    if len(results) != len(statements):
        raise RuntimeError(f"{len(statements)} statements gave {len(results)} results.")
    return results


def fetch_rows(sql, params) -> list:
    """The rows of one statement."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def load_rows(model, sql, params) -> list:
    """Model instances from a statement selecting every column of ``model`` in field order."""
    return instances_from_rows(model, fetch_rows(sql, params))


@functools.cache
def _inserted_fields(model) -> list:
    """The fields an insert writes: all but the auto primary key."""
    return [f for f in model._meta.concrete_fields if not f.primary_key]


@functools.cache
def _insert_sql(model, rows, returning, expressions=()) -> str:
    """``expressions``: (column, SQL) pairs written as they are, not as parameters."""
    quote = connection.ops.quote_name
    fields = _inserted_fields(model)
    written = dict(expressions)
    one_row = "(" + ", ".join(written.get(f.column, "%s") for f in fields) + ")"
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)}"
        f" ({', '.join(quote(f.column) for f in fields)}) VALUES {', '.join([one_row] * rows)}"
    )
    if returning:
        sql += f" RETURNING {quote(model._meta.pk.column)}"
    return sql


def _insert_statement(model, instances, expressions=()) -> tuple[str, list]:
    """The insert of ``instances`` and its parameters, values prepared field by field
    as ``Model.save()`` prepares them (``pre_save``, then ``get_db_prep_save``)."""
    written = {column for column, _ in expressions}
    fields = [f for f in _inserted_fields(model) if f.column not in written]
    params = [
        f.get_db_prep_save(f.pre_save(instance, add=True), connection)
        for instance in instances
        for f in fields
    ]
    returning = connection.features.can_return_rows_from_bulk_insert
    return _insert_sql(model, len(instances), returning, expressions), params


def _inserted(instances, pks) -> None:
    for n, instance in enumerate(instances):
        if n < len(pks):
            instance.pk = pks[n]
        instance._state.adding = False
        instance._state.db = connection.alias


def insert_rows(model, instances) -> None:
    """Insert new ``instances`` of ``model`` (auto primary key) in one statement,
    and give them their primary keys where the database can return them.

    What ``Model.save()`` and ``bulk_create()`` do for a plain model, but no
    signals are sent: callers that need what a signal does (clearing cached
    availability) do it themselves.
    """
    if not instances:
        return
    sql, params = _insert_statement(model, instances)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if connection.features.can_return_rows_from_bulk_insert:
            pks = [row[0] for row in cursor.fetchall()]
        else:
            pks = [cursor.lastrowid] if len(instances) == 1 else []
    _inserted(instances, pks)


def insert_with_children(instance, children, parent_field) -> None:
    """Insert a new ``instance`` and its new ``children``, whose foreign key
    ``parent_field`` points to it (an order and its lines).

    On PostgreSQL in one round trip (``run_together``): the children's foreign
    key is read from the sequence that just gave the parent its key
    (``currval`` is the session's own, so no other insert can change it in
    between). Elsewhere, one insert after the other.
    """
    model = type(instance)
    if connection.vendor != "postgresql" or not children:
        insert_rows(model, [instance])
        for child in children:
            setattr(child, parent_field, instance)
        if children:
            insert_rows(type(children[0]), children)
        return
    child_model = type(children[0])
    foreign_key = child_model._meta.get_field(parent_field)
    table, pk_column = model._meta.db_table, model._meta.pk.column
    current_key = f"currval(pg_get_serial_sequence('{table}', '{pk_column}'))"
    parent_pks, child_pks = run_together(
        [
            _insert_statement(model, [instance]),
            _insert_statement(child_model, children, ((foreign_key.column, current_key),)),
        ]
    )
    _inserted([instance], [row[0] for row in parent_pks])
    for child in children:
        setattr(child, parent_field, instance)
    _inserted(children, [row[0] for row in child_pks])
