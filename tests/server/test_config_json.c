/* srv_config_json (server/config.c): the configuration /webui/api/config shows. Every option
 * is there under its flag's name; the token and the credentials in storage URIs (user-info,
 * azblob's key= and sas=, any query value whose name says key, token, secret, password...)
 * are "[redacted]", everything else is shown as given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server.h"

static json_t *load(int argc, char **argv, srv_config *cfg)
{
    assert_int_equal(srv_config_load(cfg, argc, argv), 0);
    json_t *j = srv_config_json(cfg);
    assert_non_null(j);
    return j;
}

static const char *str(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    assert_non_null(v);
    return json_is_null(v) ? NULL : json_string_value(v);
}

static void test_redacted(void **state)
{
    (void)state;
    char *argv[] = {"vdb-server", "--token", "root:Milvus", "--data", "/srv/d",
                    "--object-uri",
                    "azblob://c/p?account=acct&key=S3CRETKEY==&endpoint=http://h:1&sas=sv=1%26sig=X",
                    "--meta-uri", "etcd://user:pa55@127.0.0.1:2379/vdb",
                    "--log-uri", "nats://tok3n@127.0.0.1:4222/p?x_access_token=abc&y=1",
                    "--port", "19531", "--max-body", "1M", NULL};
    srv_config cfg;
    json_t *j = load((int)(sizeof argv / sizeof argv[0]) - 1, argv, &cfg);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_non_null(text);
    const char *secrets[] = {"Milvus", "S3CRET", "pa55", "tok3n", "abc", "sig=X"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        assert_null(strstr(text, secrets[i]));
    free(text);
    assert_string_equal(str(j, "token"), "[redacted]");
    assert_string_equal(str(j, "object-uri"),
                        "azblob://c/p?account=acct&key=[redacted]&endpoint=http://h:1"
                        "&sas=[redacted]");
    assert_string_equal(str(j, "meta-uri"), "etcd://[redacted]@127.0.0.1:2379/vdb");
    assert_string_equal(str(j, "log-uri"),
                        "nats://[redacted]@127.0.0.1:4222/p?x_access_token=[redacted]&y=1");
    assert_string_equal(str(j, "data"), "/srv/d");
    assert_int_equal(json_integer_value(json_object_get(j, "port")), 19531);
    assert_int_equal(json_integer_value(json_object_get(j, "max-body")), 1 << 20);
    json_decref(j);
    srv_config_free(&cfg);
}

static void test_defaults(void **state)
{
    (void)state;
    char *argv[] = {"vdb-server", NULL};
    srv_config cfg;
    json_t *j = load(1, argv, &cfg);
    assert_null(str(j, "token")); /* no token: null, not "[redacted]" */
    assert_null(str(j, "object-uri"));
    assert_string_equal(str(j, "host"), "127.0.0.1");
    assert_int_equal(json_integer_value(json_object_get(j, "port")), 19530);
    /* every option of --help, no more */
    const char *keys[] = {"host", "port", "data", "log-uri", "meta-uri", "object-uri", "sync",
                          "threads", "io-threads", "token", "tls-cert", "tls-key", "log-level",
                          "max-body", "timeout", "request-timeout", "header-timeout",
                          "max-connections", "max-streams", "drain-timeout"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_non_null(json_object_get(j, keys[i]));
    json_decref(j);
    srv_config_free(&cfg);
}

/* A URI without '?' or '@', and one whose '@' is in the path, keep their text. */
static void test_plain_uris(void **state)
{
    (void)state;
    char *argv[] = {"vdb-server", "--object-uri", "s3://bucket/a@b/prefix?endpoint=http://h:9",
                    "--log-uri", "rocksdb:///var/lib/vdb", NULL};
    srv_config cfg;
    json_t *j = load(5, argv, &cfg);
    assert_string_equal(str(j, "object-uri"), "s3://bucket/a@b/prefix?endpoint=http://h:9");
    assert_string_equal(str(j, "log-uri"), "rocksdb:///var/lib/vdb");
    json_decref(j);
    srv_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redacted),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_plain_uris),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
