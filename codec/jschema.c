/* jschema.c -- the JSON Schema subset and the label sets structured output
 * is checked against (see jschema.h for the subset and the bounds). No
 * Debian package ships a maintained C validator, so this is our own, on
 * the jansson values the rest of the codec layer already uses. */
#include "jschema.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PATH_MAX_BYTES 160

static const char *const type_names[] = {"object", "array", "string", "number",
                                         "integer", "boolean", "null", NULL};
static const char *const annotations[] = {"title", "description", "default", "examples",
                                          "$schema", "$comment", NULL};
static const char *const count_keys[] = {"minItems", "maxItems", "minLength", "maxLength", NULL};
static const char *const bound_keys[] = {"minimum", "maximum", "exclusiveMinimum",
                                         "exclusiveMaximum", NULL};
static const char *const schema_keys[] = {"type", "properties", "required", "additionalProperties",
                                          "enum", "const", "items", NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s)) return true;
    return false;
}

/* ---- where: a JSON path of printable ASCII, bounded ---- */

typedef struct where {
    char p[PATH_MAX_BYTES];
    size_t n;
} where;

static size_t where_push(where *w, const char *fmt, ...)
{
    size_t was = w->n;
    char piece[PATH_MAX_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(piece, sizeof piece, fmt, ap);
    va_end(ap);
    const char *s = piece;
    for (; *s && w->n + 4 < sizeof w->p; s++)
        w->p[w->n++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
    if ((*s || len >= (int)sizeof piece) && w->n + 3 < sizeof w->p) { /* cut: say so */
        memcpy(w->p + w->n, "...", 3);
        w->n += 3;
    }
    w->p[w->n] = '\0';
    return was;
}

static void where_pop(where *w, size_t was)
{
    w->n = was;
    w->p[was] = '\0';
}

static int fail(char *err, size_t errlen, const where *w, const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (errlen) snprintf(err, errlen, "%s: %s", w->p, why);
    return -1;
}

/* ---- checking a schema ---- */

static int check_at(const json_t *s, where *w, int depth, char *err, size_t errlen);

static bool count_ok(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

static int check_type(const json_t *t, where *w, char *err, size_t errlen)
{
    if (json_is_string(t)) {
        if (in_list(type_names, json_string_value(t))) return 0;
    } else if (json_is_array(t) && json_array_size(t) > 0) {
        size_t i;
        json_t *e;
        json_array_foreach(t, i, e)
            if (!json_is_string(e) || !in_list(type_names, json_string_value(e))) break;
        if (i == json_array_size(t)) return 0;
    }
    return fail(err, errlen, w, "type must be one of object, array, string, number, integer, "
                "boolean, null, or a non-empty list of them");
}

static int check_properties(const json_t *props, where *w, int depth, char *err, size_t errlen)
{
    if (!json_is_object(props)) return fail(err, errlen, w, "properties must be an object");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)props, k, v) {
        size_t was = where_push(w, ".properties.%s", k);
        if (check_at(v, w, depth + 1, err, errlen)) return -1;
        where_pop(w, was);
    }
    return 0;
}

static int check_keyword(const char *k, const json_t *v, where *w, int depth, char *err, size_t errlen)
{
    if (in_list(annotations, k)) return 0;
    if (in_list(count_keys, k))
        return count_ok(v) ? 0 : fail(err, errlen, w, "%s must be a non-negative integer", k);
    if (in_list(bound_keys, k))
        return json_is_number(v) ? 0 : fail(err, errlen, w, "%s must be a number", k);
    if (!in_list(schema_keys, k)) {
        where name = {.n = 0}; /* the keyword as printable ASCII, cut */
        where_push(&name, "%.40s", k);
        return fail(err, errlen, w, "keyword '%s' is not in the supported subset", name.p);
    }
    if (!strcmp(k, "type")) return check_type(v, w, err, errlen);
    if (!strcmp(k, "properties")) return check_properties(v, w, depth, err, errlen);
    if (!strcmp(k, "required")) {
        size_t i;
        json_t *e;
        if (!json_is_array(v)) return fail(err, errlen, w, "required must be a list of names");
        json_array_foreach(v, i, e)
            if (!json_is_string(e)) return fail(err, errlen, w, "required must be a list of names");
        return 0;
    }
    if (!strcmp(k, "enum"))
        return json_is_array(v) && json_array_size(v) > 0
                   ? 0 : fail(err, errlen, w, "enum must be a non-empty list");
    if (!strcmp(k, "const")) return 0;
    /* additionalProperties, items: a schema */
    size_t was = where_push(w, ".%s", k);
    if (check_at(v, w, depth + 1, err, errlen)) return -1;
    where_pop(w, was);
    return 0;
}

static int check_at(const json_t *s, where *w, int depth, char *err, size_t errlen)
{
    if (depth > SY_JSCHEMA_MAX_DEPTH)
        return fail(err, errlen, w, "schema nested deeper than %d levels", SY_JSCHEMA_MAX_DEPTH);
    if (json_is_boolean(s)) return 0;
    if (!json_is_object(s)) return fail(err, errlen, w, "a schema must be an object, true or false");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)s, k, v)
        if (check_keyword(k, v, w, depth, err, errlen)) return -1;
    return 0;
}

int sy_jschema_check(const json_t *schema, char *err, size_t errlen)
{
    where w = {.p = "$", .n = 1};
    return check_at(schema, &w, 0, err, errlen);
}

/* ---- validating a value ---- */

static bool is_integral(const json_t *v)
{
    if (json_is_integer(v)) return true;
    double d = json_real_value(v);
    return json_is_real(v) && isfinite(d) && d == floor(d);
}

static bool has_type(const json_t *v, const char *t)
{
    if (!strcmp(t, "object")) return json_is_object(v);
    if (!strcmp(t, "array")) return json_is_array(v);
    if (!strcmp(t, "string")) return json_is_string(v);
    if (!strcmp(t, "number")) return json_is_number(v);
    if (!strcmp(t, "integer")) return is_integral(v);
    if (!strcmp(t, "boolean")) return json_is_boolean(v);
    return json_is_null(v);
}

static bool type_ok(const json_t *t, const json_t *v)
{
    if (json_is_string(t)) return has_type(v, json_string_value(t));
    size_t i;
    json_t *e;
    json_array_foreach(t, i, e)
        if (has_type(v, json_string_value(e))) return true;
    return false;
}

/* JSON Schema equality: numbers by value, containers member by member. */
static bool same(const json_t *a, const json_t *b, int depth)
{
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b) || depth > SY_JSCHEMA_MAX_DEPTH) return false;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same(json_array_get(a, i), json_array_get(b, i), depth + 1)) return false;
        return true;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b)) return false;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            json_t *o = json_object_get(b, k);
            if (!o || !same(v, o, depth + 1)) return false;
        }
        return true;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

static size_t code_points(const json_t *s)
{
    const unsigned char *p = (const unsigned char *)json_string_value(s);
    size_t n = 0, len = json_string_length(s);
    for (size_t i = 0; i < len; i++) n += (p[i] & 0xC0) != 0x80;
    return n;
}

static int validate_at(const json_t *s, const json_t *v, where *w, int depth, char *err, size_t errlen);

static int validate_counts(const json_t *s, const json_t *v, where *w, char *err, size_t errlen)
{
    json_int_t lo, hi;
    json_t *a = json_object_get(s, json_is_array(v) ? "minItems" : "minLength");
    json_t *b = json_object_get(s, json_is_array(v) ? "maxItems" : "maxLength");
    lo = a ? json_integer_value(a) : 0;
    hi = b ? json_integer_value(b) : -1;
    size_t n = json_is_array(v) ? json_array_size(v) : code_points(v);
    const char *what = json_is_array(v) ? "items" : "characters";
    if ((json_int_t)n < lo) return fail(err, errlen, w, "%zu %s, at least %lld wanted", n, what, (long long)lo);
    if (hi >= 0 && (json_int_t)n > hi)
        return fail(err, errlen, w, "%zu %s, at most %lld wanted", n, what, (long long)hi);
    return 0;
}

static int validate_number(const json_t *s, const json_t *v, where *w, char *err, size_t errlen)
{
    double x = json_number_value(v);
    json_t *b;
    if ((b = json_object_get(s, "minimum")) && x < json_number_value(b))
        return fail(err, errlen, w, "below the minimum %g", json_number_value(b));
    if ((b = json_object_get(s, "maximum")) && x > json_number_value(b))
        return fail(err, errlen, w, "above the maximum %g", json_number_value(b));
    if ((b = json_object_get(s, "exclusiveMinimum")) && x <= json_number_value(b))
        return fail(err, errlen, w, "not above the exclusive minimum %g", json_number_value(b));
    if ((b = json_object_get(s, "exclusiveMaximum")) && x >= json_number_value(b))
        return fail(err, errlen, w, "not below the exclusive maximum %g", json_number_value(b));
    return 0;
}

static int validate_object(const json_t *s, const json_t *v, where *w, int depth, char *err, size_t errlen)
{
    json_t *props = json_object_get(s, "properties"), *extra = json_object_get(s, "additionalProperties");
    json_t *req = json_object_get(s, "required");
    size_t i;
    json_t *e;
    json_array_foreach(req, i, e)
        if (!json_object_get(v, json_string_value(e))) {
            where_push(w, ".%s", json_string_value(e));
            return fail(err, errlen, w, "required member missing");
        }
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)v, k, m) {
        json_t *sub = json_object_get(props, k);
        if (!sub && !extra) continue;
        size_t was = where_push(w, ".%s", k);
        if (!sub && json_is_false(extra)) return fail(err, errlen, w, "member not allowed (additionalProperties)");
        if (validate_at(sub ? sub : extra, m, w, depth + 1, err, errlen)) return -1;
        where_pop(w, was);
    }
    return 0;
}

static int validate_at(const json_t *s, const json_t *v, where *w, int depth, char *err, size_t errlen)
{
    if (depth > SY_JSCHEMA_MAX_DEPTH) return fail(err, errlen, w, "nested too deep");
    if (json_is_true(s)) return 0;
    if (!json_is_object(s)) return fail(err, errlen, w, "no value allowed here");
    json_t *t = json_object_get(s, "type"), *c = json_object_get(s, "const"), *en = json_object_get(s, "enum");
    if (t && !type_ok(t, v)) return fail(err, errlen, w, "wrong type (%s wanted)", json_is_string(t) ?
                                         json_string_value(t) : "another type");
    if (c && !same(c, v, 0)) return fail(err, errlen, w, "not the constant the schema wants");
    if (en) {
        size_t i;
        json_t *e;
        json_array_foreach(en, i, e)
            if (same(e, v, 0)) break;
        if (i == json_array_size(en))
            return fail(err, errlen, w, "not one of the %zu allowed values", json_array_size(en));
    }
    if (json_is_number(v)) return validate_number(s, v, w, err, errlen);
    if (json_is_string(v)) return validate_counts(s, v, w, err, errlen);
    if (json_is_object(v)) return validate_object(s, v, w, depth, err, errlen);
    if (!json_is_array(v) || validate_counts(s, v, w, err, errlen)) return json_is_array(v) ? -1 : 0;
    json_t *items = json_object_get(s, "items"), *e;
    size_t i;
    if (items)
        json_array_foreach(v, i, e) {
            size_t was = where_push(w, "[%zu]", i);
            if (validate_at(items, e, w, depth + 1, err, errlen)) return -1;
            where_pop(w, was);
        }
    return 0;
}

int sy_jschema_validate(const json_t *schema, const json_t *value, char *err, size_t errlen)
{
    where w = {.p = "$", .n = 1};
    return validate_at(schema, value, &w, 0, err, errlen);
}

/* ---- label sets ---- */

int sy_label_match(const char *answer, size_t len, const char *const *labels, size_t nlabels,
                   char *err, size_t errlen)
{
    const char *p = answer ? answer : "";
    while (len > 0 && strchr(" \t\r\n", *p) && *p) p++, len--;
    while (len > 0 && strchr(" \t\r\n", p[len - 1]) && p[len - 1]) len--;
    json_t *j = len && (*p == '"' || *p == '{') ? json_loadb(p, len, JSON_DECODE_ANY, NULL) : NULL;
    json_t *s = json_is_object(j) ? json_object_get(j, "label") : j;
    if (json_is_string(s)) {
        p = json_string_value(s);
        len = json_string_length(s);
    }
    int found = -1;
    for (size_t i = 0; found < 0 && i < nlabels; i++)
        if (strlen(labels[i]) == len && !memchr(p, '\0', len) && !strncasecmp(labels[i], p, len))
            found = (int)i;
    json_decref(j);
    if (found < 0 && errlen)
        snprintf(err, errlen, "the answer (%zu bytes) is none of the task's %zu labels", len, nlabels);
    return found;
}
