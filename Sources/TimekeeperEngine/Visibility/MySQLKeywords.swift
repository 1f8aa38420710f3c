/// The MySQL words the server's tokenizer (temporalio/sqlparser) knows beyond the ones our grammar
/// uses, because they change how a query reads there:
/// - a reserved word cannot name an attribute unless backquoted (`group = 'a'` is a syntax error);
/// - a non-reserved word can, but the tokenizer lower-cases it first, so an unquoted `Status` or
///   `Text` is looked up as `status` / `text` (and a custom attribute of that name needs backquotes).
/// Lists taken from the `keywords` map in token.go and the `reserved_keyword` / `non_reserved_keyword`
/// rules in sql.y.
enum MySQLKeywords {
    static let reserved: Set<String> = [
        "_binary", "add", "all", "alter", "analyze", "auto_increment", "boolean", "cast", "column", "constraint",
        "convert", "create", "cross", "current_date", "current_time", "current_timestamp", "database", "databases",
        "delete", "describe", "drop", "explain", "extended", "force", "full", "group_concat", "if", "ignore",
        "index", "inner", "insert", "into", "join", "key", "left", "localtime", "localtimestamp", "maxvalue",
        "natural", "next", "on", "outer", "processlist", "rename", "replace", "right", "schema", "separator", "set",
        "show", "sql_cache", "sql_no_cache", "straight_join", "stream", "substr", "substring", "table", "tables",
        "to", "unique", "use", "using", "utc_date", "utc_time", "utc_timestamp",
    ]

    static let nonReserved: Set<String> = [
        "accessible", "against", "asensitive", "before", "begin", "bigint", "bit", "blob", "bool", "both", "call",
        "cascade", "change", "char", "character", "charset", "check", "comment", "commit", "committed", "condition",
        "continue", "current_user", "cursor", "date", "datetime", "day_hour", "day_microsecond", "day_minute",
        "day_second", "dec", "decimal", "declare", "delayed", "deterministic", "distinctrow", "double", "duplicate",
        "each", "elseif", "enclosed", "enum", "escaped", "exit", "expansion", "fetch", "float", "float4", "float8",
        "foreign", "fulltext", "generated", "geometry", "geometrycollection", "get", "global", "grant",
        "high_priority", "hour_microsecond", "hour_minute", "hour_second", "infile", "inout", "insensitive", "int",
        "int1", "int2", "int3", "int4", "int8", "integer", "io_after_gtids", "isolation", "iterate", "json",
        "key_block_size", "keys", "kill", "language", "last_insert_id", "leading", "leave", "less", "level",
        "linear", "lines", "linestring", "load", "long", "longblob", "longtext", "loop", "low_priority",
        "master_bind", "mediumblob", "mediumint", "mediumtext", "middleint", "minute_microsecond", "minute_second",
        "mode", "modifies", "multilinestring", "multipoint", "multipolygon", "names", "nchar", "no_write_to_binlog",
        "numeric", "offset", "only", "optimize", "optimizer_costs", "option", "optionally", "out", "outfile",
        "partition", "point", "polygon", "precision", "primary", "procedure", "query", "range", "read", "read_write",
        "reads", "real", "references", "release", "reorganize", "repair", "repeat", "repeatable", "require",
        "resignal", "restrict", "return", "revoke", "rollback", "schemas", "second_microsecond", "sensitive",
        "serializable", "session", "share", "signal", "signed", "smallint", "spatial", "specific", "sql",
        "sql_big_result", "sql_calc_found_rows", "sql_small_result", "sqlexception", "sqlstate", "sqlwarning", "ssl",
        "start", "starting", "status", "stored", "terminated", "text", "than", "time", "timestamp", "tinyblob",
        "tinyint", "tinytext", "trailing", "transaction", "trigger", "truncate", "uncommitted", "undo", "unlock",
        "unsigned", "usage", "varbinary", "varchar", "varcharacter", "variables", "varying", "view", "vindex",
        "vindexes", "virtual", "vitess_keyspaces", "vitess_shards", "vitess_tablets", "vschema_tables", "while",
        "with", "write", "xor", "year", "year_month", "zerofill",
    ]
}
