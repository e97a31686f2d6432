/* test_jschema.c -- structured output's checks (codec/jschema.c): which
 * schemas are in the subset, each keyword accepting and refusing, nesting,
 * label sets, and hostile answers (deep nesting, huge numbers, control
 * bytes in member names, NUL) giving bounded, printable reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jschema.h"

static json_t *js(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!v) fail_msg("test JSON does not parse: %s: %s", e.text, text);
    return v;
}

/* 0 or -1 from validating value against schema; the reason in err. */
static int check(const char *schema, const char *value, char *err, size_t errlen)
{
    json_t *s = js(schema), *v = js(value);
    char why[256];
    if (sy_jschema_check(s, why, sizeof why) != 0) fail_msg("schema refused: %s", why);
    err[0] = '\0';
    int rc = sy_jschema_validate(s, v, err, errlen);
    json_decref(s);
    json_decref(v);
    return rc;
}

static void ok(const char *schema, const char *value)
{
    char err[256];
    if (check(schema, value, err, sizeof err) != 0) fail_msg("%s refused %s: %s", schema, value, err);
}

static void bad(const char *schema, const char *value, const char *reason)
{
    char err[256];
    if (check(schema, value, err, sizeof err) == 0) fail_msg("%s accepted %s", schema, value);
    if (!strstr(err, reason)) fail_msg("%s on %s: reason '%s' lacks '%s'", schema, value, err, reason);
}

static void test_schema_subset(void **state)
{
    (void)state;
    const char *good[] = {
        "true", "false", "{}", "{\"type\":\"object\",\"title\":\"t\",\"description\":\"d\"}",
        "{\"type\":[\"string\",\"null\"]}", "{\"enum\":[1,\"a\",null]}", "{\"const\":{\"a\":[1]}}",
        "{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":0,\"maxItems\":3}",
        "{\"properties\":{\"a\":{\"minimum\":-1.5,\"exclusiveMaximum\":2}},\"required\":[\"a\"],"
        "\"additionalProperties\":{\"type\":\"string\",\"maxLength\":4}}",
    };
    const char *refused[][2] = {
        {"{\"anyOf\":[{}]}", "keyword 'anyOf' is not in the supported subset"},
        {"{\"$ref\":\"#/x\"}", "'$ref'"},
        {"{\"type\":\"float\"}", "type must be"},
        {"{\"type\":[]}", "type must be"},
        {"{\"required\":\"a\"}", "required must be a list"},
        {"{\"required\":[1]}", "required must be a list"},
        {"{\"enum\":[]}", "enum must be a non-empty list"},
        {"{\"minItems\":-1}", "minItems must be a non-negative integer"},
        {"{\"maxLength\":1.5}", "maxLength must be"},
        {"{\"minimum\":\"1\"}", "minimum must be a number"},
        {"{\"properties\":[]}", "properties must be an object"},
        {"{\"properties\":{\"a\":{\"items\":5}}}", "$.properties.a.items: a schema must be"},
        {"[]", "a schema must be an object"},
        {"{\"en\u00e9\\u001b\":[1]}", "keyword 'en?" "?" "?' is not"}, /* printable, whatever the name */
    };
    char err[256];
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        json_t *s = js(good[i]);
        if (sy_jschema_check(s, err, sizeof err) != 0) fail_msg("%s refused: %s", good[i], err);
        json_decref(s);
    }
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        json_t *s = js(refused[i][0]);
        assert_int_equal(sy_jschema_check(s, err, sizeof err), -1);
        if (!strstr(err, refused[i][1])) fail_msg("%s: '%s' lacks '%s'", refused[i][0], err, refused[i][1]);
        json_decref(s);
    }
}

static void test_keywords(void **state)
{
    (void)state;
    const char *obj = "{\"type\":\"object\",\"properties\":{\"label\":{\"type\":\"string\",\"enum\":"
                      "[\"billing\",\"other\"]},\"score\":{\"type\":\"number\",\"minimum\":0,"
                      "\"maximum\":1}},\"required\":[\"label\"],\"additionalProperties\":false}";
    ok(obj, "{\"label\":\"billing\"}");
    ok(obj, "{\"label\":\"other\",\"score\":0.5}");
    bad(obj, "{\"score\":0.5}", "$.label: required member missing");
    bad(obj, "{\"label\":\"nope\"}", "$.label: not one of the 2 allowed values");
    bad(obj, "{\"label\":\"other\",\"score\":1.5}", "$.score: above the maximum 1");
    bad(obj, "{\"label\":\"other\",\"score\":-0.1}", "$.score: below the minimum 0");
    bad(obj, "{\"label\":\"other\",\"x\":1}", "$.x: member not allowed");
    bad(obj, "[]", "$: wrong type (object wanted)");
    ok("{\"additionalProperties\":{\"type\":\"integer\"}}", "{\"a\":1,\"b\":2.0}");
    bad("{\"additionalProperties\":{\"type\":\"integer\"}}", "{\"a\":1,\"b\":2.5}", "$.b: wrong type");
    ok("{\"type\":\"integer\"}", "3");
    ok("{\"type\":\"integer\"}", "3.0");
    bad("{\"type\":\"integer\"}", "3.5", "wrong type");
    ok("{\"type\":[\"null\",\"boolean\"]}", "null");
    ok("{\"type\":[\"null\",\"boolean\"]}", "false");
    bad("{\"type\":[\"null\",\"boolean\"]}", "0", "another type");
    ok("{\"const\":1}", "1.0");
    ok("{\"const\":{\"a\":[1,\"x\"]}}", "{\"a\":[1.0,\"x\"]}");
    bad("{\"const\":{\"a\":[1,\"x\"]}}", "{\"a\":[1,\"y\"]}", "not the constant");
    bad("{\"const\":{\"a\":1}}", "{\"a\":1,\"b\":1}", "not the constant");
    ok("{\"enum\":[[1,2],\"a\"]}", "[1,2]");
    bad("{\"enum\":[[1,2],\"a\"]}", "[2,1]", "not one of the 2");
    ok("{\"exclusiveMinimum\":0,\"exclusiveMaximum\":1}", "0.5");
    bad("{\"exclusiveMinimum\":0}", "0", "not above the exclusive minimum");
    bad("{\"exclusiveMaximum\":1}", "1", "not below the exclusive maximum");
    ok("{\"minLength\":2,\"maxLength\":3}", "\"h\xc3\xa9\xc3\xa9\""); /* 3 code points, 5 bytes */
    bad("{\"maxLength\":3}", "\"abcd\"", "4 characters, at most 3");
    bad("{\"minLength\":1}", "\"\"", "0 characters, at least 1");
    ok("{\"items\":{\"type\":\"string\"},\"minItems\":1,\"maxItems\":2}", "[\"a\"]");
    bad("{\"items\":{\"type\":\"string\"},\"maxItems\":2}", "[\"a\",\"b\",\"c\"]", "3 items, at most 2");
    bad("{\"items\":{\"type\":\"string\"}}", "[\"a\",2]", "$[1]: wrong type");
    bad("{\"minItems\":1}", "[]", "0 items, at least 1");
    bad("false", "1", "no value allowed");
    ok("true", "{\"anything\":[1]}");
    ok("{\"minimum\":5}", "\"a string is not a number\""); /* bounds only bind their type */
}

static void test_nested(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"object\",\"required\":[\"items\"],\"properties\":{\"items\":{\"type\":"
                    "\"array\",\"items\":{\"type\":\"object\",\"required\":[\"name\",\"tags\"],"
                    "\"properties\":{\"name\":{\"type\":\"string\"},\"tags\":{\"type\":\"array\","
                    "\"items\":{\"enum\":[\"a\",\"b\"]}}}}}}}";
    ok(s, "{\"items\":[{\"name\":\"x\",\"tags\":[]},{\"name\":\"y\",\"tags\":[\"a\",\"b\"]}]}");
    bad(s, "{\"items\":[{\"name\":\"x\",\"tags\":[]},{\"name\":\"y\",\"tags\":[\"a\",\"c\"]}]}",
        "$.items[1].tags[1]: not one of the 2 allowed values");
    bad(s, "{\"items\":[{\"name\":\"x\"}]}", "$.items[0].tags: required member missing");
}

/* A schema nested n levels: {"items":{"items":...{}}}. */
static char *deep_schema(int n)
{
    size_t cap = (size_t)n * 12 + 8;
    char *s = malloc(cap), *p = s;
    for (int i = 0; i < n; i++) p += sprintf(p, "{\"items\":");
    p += sprintf(p, "{}");
    for (int i = 0; i < n; i++) *p++ = '}';
    *p = '\0';
    return s;
}

static void test_hostile(void **state)
{
    (void)state;
    char err[256];
    /* a schema deeper than the bound is refused at load */
    char *deep = deep_schema(SY_JSCHEMA_MAX_DEPTH + 5);
    json_t *s = js(deep);
    assert_int_equal(sy_jschema_check(s, err, sizeof err), -1);
    assert_non_null(strstr(err, "nested deeper than"));
    json_decref(s);
    free(deep);
    /* an answer nested far deeper than the schema: walked only as deep as the schema leads */
    size_t n = 1500;
    char *v = malloc(n * 2 + 1);
    memset(v, '[', n);
    memset(v + n, ']', n);
    v[2 * n] = '\0';
    ok("{\"type\":\"array\",\"items\":{\"type\":\"array\"}}", v);
    bad("{\"items\":{\"items\":{\"type\":\"integer\"}}}", v, "$[0][0]: wrong type");
    free(v);
    /* huge numbers: jansson refuses what overflows; what parses compares as a double */
    json_error_t je;
    assert_null(json_loads("1e999", JSON_DECODE_ANY, &je));
    assert_null(json_loads("123456789012345678901234567890", JSON_DECODE_ANY, &je));
    bad("{\"maximum\":1e308}", "1.7e308", "above the maximum");
    ok("{\"type\":\"integer\",\"minimum\":-9223372036854775808}", "9223372036854775807");
    ok("{\"type\":\"number\"}", "-1.5e-320");
    /* member names with control bytes (jansson refuses NUL in them) and a long name: the reason stays printable and bounded */
    char name[600];
    memset(name, 'n', sizeof name);
    name[sizeof name - 1] = '\0';
    char value[700];
    snprintf(value, sizeof value, "{\"\\u001b[2J\\u007fx\":1,\"%s\":2}", name);
    char small[48];
    assert_int_equal(check("{\"additionalProperties\":false}", value, small, sizeof small), -1);
    assert_true(strlen(small) < sizeof small);
    for (const char *p = small; *p; p++) assert_true(*p >= 0x20 && *p < 0x7f);
    snprintf(value, sizeof value, "{\"%s\":[\"\\u001b\"]}", name);
    assert_int_equal(check("{\"additionalProperties\":{\"items\":{\"type\":\"integer\"}}}", value, err,
                           sizeof err), -1);
    assert_true(strlen(err) < 220);
    assert_non_null(strstr(err, "..."));
    for (const char *p = err; *p; p++) assert_true(*p >= 0x20 && *p < 0x7f);
}

static void test_labels(void **state)
{
    (void)state;
    const char *labels[] = {"billing", "technical", "other"};
    char err[128];
    struct { const char *answer; int want; } cases[] = {
        {"billing", 0}, {"  Technical\n", 1}, {"\"other\"", 2}, {"{\"label\":\"BILLING\",\"x\":1}", 0},
        {"bill", -1}, {"billing.", -1}, {"", -1}, {"{\"label\":3}", -1}, {"[\"billing\"]", -1},
        {"{\"label\":\"billing\"", -1}, {"\"billing\\u0000x\"", -1}, {"billingx", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int got = sy_label_match(cases[i].answer, strlen(cases[i].answer), labels, 3, err, sizeof err);
        if (got != cases[i].want) fail_msg("'%s': %d, want %d", cases[i].answer, got, cases[i].want);
        if (got < 0) assert_non_null(strstr(err, "none of the task's 3 labels"));
    }
    /* the answer's bytes never reach the reason */
    const char *hostile = "\x1b[31mbilling\x1b[0m";
    assert_int_equal(sy_label_match(hostile, strlen(hostile), labels, 3, err, sizeof err), -1);
    assert_null(strchr(err, '\x1b'));
    assert_int_equal(sy_label_match(NULL, 0, labels, 3, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_subset),
        cmocka_unit_test(test_keywords),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
