/* pgroute router plugin ABI, version 1: a shared library that answers "which alias runs this
 * statement?" (Django's db_for_read / db_for_write / allow_relation) from C, C++, Rust, ...
 *
 * The library exports one function, pgroute_router_entry(), returning a static descriptor whose first
 * field is the ABI version. pgroute refuses a plugin whose version it does not know; a future version
 * adds fields at the end and bumps PGROUTE_ROUTER_ABI_VERSION.
 *
 * Rules for plugins:
 *  - Calls come from several worker threads at once: the state init() returns must be safe to read
 *    concurrently (build it in init, do not change it afterwards).
 *  - Never block (no network, no disk): a call sits on the query path of every routed statement.
 *  - No exceptions or longjmp across the boundary.
 *  - Everything pgroute passes is valid only during the call. Strings a plugin returns in a
 *    pgroute_answer must stay valid until that thread's next call into the plugin (static strings,
 *    strings owned by the state, or a thread-local buffer); pgroute copies them at once.
 *  - One library may be loaded several times (every reload builds a new router chain): each load
 *    calls init() again and destroy() on the old state when the old chain is dropped.
 */
#ifndef PGROUTE_PLUGIN_API_H
#define PGROUTE_PLUGIN_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PGROUTE_ROUTER_ABI_VERSION 1u

/* A table the statement touches. schema is "" when the statement did not qualify the name. */
typedef struct pgroute_table {
  const char* schema;
  const char* name;
  int written; /* 1: target of INSERT/UPDATE/DELETE/MERGE/COPY FROM/TRUNCATE or of DDL */
} pgroute_table;

/* How a key value is known. */
typedef enum pgroute_value_kind {
  PGROUTE_VALUE_LITERAL = 0,      /* a constant in the SQL text: value is its text form */
  PGROUTE_VALUE_PARAM_TEXT = 1,   /* a $n bound in text format: value is the text */
  PGROUTE_VALUE_PARAM_BINARY = 2, /* a $n bound in binary format: value/value_len are the raw bytes */
  PGROUTE_VALUE_NULL = 3,         /* SQL NULL (literal or bound): value is NULL */
  PGROUTE_VALUE_UNKNOWN = 4       /* a $n not bound yet (at Parse) or an expression: value is NULL */
} pgroute_value_kind;

/* One `column = value` the statement constrains (WHERE equality, IN element, INSERT column value).
 * Values with the same row are one alternative the statement may touch (a conjunction); different
 * rows are alternatives (IN-list elements, rows of a multi-row INSERT). */
typedef struct pgroute_key_value {
  int row;
  const char* schema; /* "" when unknown */
  const char* table;  /* "" when it could not be resolved */
  const char* column;
  int param; /* $n (1-based) when the value is a parameter, else 0 */
  pgroute_value_kind kind;
  const char* value; /* NUL-terminated (binary values too, after value_len bytes) or NULL */
  size_t value_len;
} pgroute_key_value;

typedef struct pgroute_statement {
  const char* sql; /* NUL-terminated */
  size_t sql_len;
  const char* kind;    /* "read", "write", "ddl", "transaction_begin", "set", "unparsed", ... */
  const char* command; /* "SELECT", "INSERT", ... ("" when unparsed) */
  const pgroute_table* tables;
  size_t table_count;
  const pgroute_key_value* keys;
  size_t key_count;
  const char* user;             /* the client's user */
  const char* database;         /* the client's database name */
  const char* application_name; /* "" when the client gave none */
  int in_transaction;           /* 1 inside an explicit transaction block */
} pgroute_statement;

/* What db_for_read / db_for_write return. */
typedef enum pgroute_verdict {
  PGROUTE_NO_OPINION = 0, /* ask the next router */
  PGROUTE_ROUTE = 1,      /* run it on answer->alias (must be a backend alias) */
  PGROUTE_REFUSE = 2      /* refuse it: answer->message (and optionally sqlstate, hint) */
} pgroute_verdict;

typedef struct pgroute_answer {
  const char* alias;    /* PGROUTE_ROUTE */
  const char* reason;   /* optional: why, for logs and `pgroute explain` */
  const char* message;  /* PGROUTE_REFUSE: sent to the client (pgroute prefixes the plugin name) */
  const char* sqlstate; /* PGROUTE_REFUSE: 5 characters; NULL = 42501 (insufficient_privilege) */
  const char* hint;     /* PGROUTE_REFUSE: optional */
} pgroute_answer;

typedef struct pgroute_router_v1 {
  uint32_t abi_version; /* PGROUTE_ROUTER_ABI_VERSION */
  const char* name;     /* short, for messages: "example" */

  /* options_json: the YAML `options:` as JSON ("{}" when absent). Returns the plugin's state (may be
     * any non-NULL pointer), or NULL after writing a NUL-terminated reason into error. */
  void* (*init)(const char* options_json, char* error, size_t error_size);
  void (*destroy)(void* state);

  pgroute_verdict (*db_for_read)(void* state, const pgroute_statement* statement, pgroute_answer* answer);
  pgroute_verdict (*db_for_write)(void* state, const pgroute_statement* statement, pgroute_answer* answer);

  /* May a statement combine table a (on alias_a) with table b (on alias_b)?
     * 1 yes, 0 no, -1 no opinion. NULL: never an opinion. */
  int (*allow_relation)(void* state, const pgroute_table* a, const char* alias_a, const pgroute_table* b,
                        const char* alias_b);
} pgroute_router_v1;

/* The one symbol a plugin exports (visible even when built with -fvisibility=hidden). */
#define PGROUTE_ROUTER_ENTRY_SYMBOL "pgroute_router_entry"
#if defined(__GNUC__)
#define PGROUTE_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define PGROUTE_PLUGIN_EXPORT
#endif
typedef const pgroute_router_v1* (*pgroute_router_entry_fn)(void);
PGROUTE_PLUGIN_EXPORT const pgroute_router_v1* pgroute_router_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* PGROUTE_PLUGIN_API_H */
