/* Example pgroute router plugin (ABI v1, see router/plugin_api.h).
 *
 *   routers:
 *     - type: plugin
 *       path: /usr/lib/pgroute/example_router.so
 *       options: {audit_alias: analytics, forbidden: forbidden, vip_key: tenant_id, vip_value: "42", vip_alias: vip}
 *
 * - refuses (42501) any statement touching the table named by `forbidden` (default "forbidden");
 * - sends statements whose key `vip_key` equals `vip_value` (literal or bound in text format) to `vip_alias`;
 * - sends statements touching a table named audit_* to `audit_alias` (required);
 * - has no opinion on anything else, and allows audit_* tables to be joined with each other only.
 * Options are flat JSON strings; the tiny reader below is enough for that and nothing more. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/plugin_api.h"

#define OPTION_MAX 128

typedef struct example_state {
    char audit_alias[OPTION_MAX];
    char forbidden[OPTION_MAX];
    char vip_key[OPTION_MAX];
    char vip_value[OPTION_MAX];
    char vip_alias[OPTION_MAX];
} example_state;

/* Copies the string value of "key" in a flat JSON object into out; 1 if found. */
static int json_string(const char* json, const char* key, char* out, size_t out_size) {
    char quoted[OPTION_MAX + 2];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    const char* at = strstr(json, quoted);
    if (!at) return 0;
    at += strlen(quoted);
    while (*at == ' ' || *at == ':') ++at;
    if (*at != '"') return 0;
    ++at;
    size_t n = 0;
    while (at[n] && at[n] != '"' && n + 1 < out_size) ++n;
    memcpy(out, at, n);
    out[n] = '\0';
    return 1;
}

static void* example_init(const char* options_json, char* error, size_t error_size) {
    example_state* state = calloc(1, sizeof *state);
    if (!state) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    if (!json_string(options_json, "audit_alias", state->audit_alias, OPTION_MAX) || !state->audit_alias[0]) {
        snprintf(error, error_size, "options need \"audit_alias\" (got %s)", options_json);
        free(state);
        return NULL;
    }
    if (!json_string(options_json, "forbidden", state->forbidden, OPTION_MAX))
        strcpy(state->forbidden, "forbidden");
    json_string(options_json, "vip_key", state->vip_key, OPTION_MAX);
    /* A number in the JSON is not a string: accept "vip_value": 42 too. */
    if (!json_string(options_json, "vip_value", state->vip_value, OPTION_MAX)) {
        const char* at = strstr(options_json, "\"vip_value\":");
        if (at) snprintf(state->vip_value, OPTION_MAX, "%ld", strtol(at + strlen("\"vip_value\":"), NULL, 10));
    }
    json_string(options_json, "vip_alias", state->vip_alias, OPTION_MAX);
    return state;
}

static void example_destroy(void* state) { free(state); }

static pgroute_verdict example_route(void* opaque, const pgroute_statement* s, pgroute_answer* answer) {
    const example_state* state = opaque;
    /* Per thread: answers must outlive the call until this thread calls again. */
    static _Thread_local char reason[512];
    for (size_t i = 0; i < s->table_count; ++i) {
        if (strcmp(s->tables[i].name, state->forbidden) == 0) {
            answer->message = "table is off limits";
            answer->sqlstate = "42501";
            answer->hint = "Ask the data owners for access.";
            return PGROUTE_REFUSE;
        }
    }
    if (state->vip_key[0] && state->vip_alias[0]) {
        for (size_t i = 0; i < s->key_count; ++i) {
            const pgroute_key_value* k = &s->keys[i];
            int textual = k->kind == PGROUTE_VALUE_LITERAL || k->kind == PGROUTE_VALUE_PARAM_TEXT;
            if (textual && strcmp(k->column, state->vip_key) == 0 && strcmp(k->value, state->vip_value) == 0) {
                snprintf(reason, sizeof reason, "%s = %s is a VIP (%s, user %s)", k->column, k->value,
                         k->kind == PGROUTE_VALUE_LITERAL ? "literal" : "bound", s->user);
                answer->alias = state->vip_alias;
                answer->reason = reason;
                return PGROUTE_ROUTE;
            }
        }
    }
    for (size_t i = 0; i < s->table_count; ++i) {
        if (strncmp(s->tables[i].name, "audit_", 6) == 0) {
            snprintf(reason, sizeof reason, "%s table %s of %s (application \"%s\"%s)", s->kind, s->tables[i].name,
                     s->command, s->application_name, s->in_transaction ? ", in a transaction" : "");
            answer->alias = state->audit_alias;
            answer->reason = reason;
            return PGROUTE_ROUTE;
        }
    }
    return PGROUTE_NO_OPINION;
}

static int example_allow_relation(void* state, const pgroute_table* a, const char* alias_a, const pgroute_table* b,
                                  const char* alias_b) {
    (void)state, (void)alias_a, (void)alias_b;
    int audit_a = strncmp(a->name, "audit_", 6) == 0, audit_b = strncmp(b->name, "audit_", 6) == 0;
    if (audit_a && audit_b) return 1;
    return -1;
}

static const pgroute_router_v1 example_router = {
    PGROUTE_ROUTER_ABI_VERSION, "example", example_init, example_destroy, example_route, example_route,
    example_allow_relation,
};

const pgroute_router_v1* pgroute_router_entry(void) { return &example_router; }
