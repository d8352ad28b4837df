/*
 * test_validate_resource.c -- src/validate_resource.c: the Perses rules
 * for datasource and variable specs, their normal form, the variable
 * name rule, and messages that name the field and are cut on a UTF-8
 * boundary.
 */
#include <string.h>

#include <json-c/json.h>

#include "validate.h"
#include "validate_resource.h"
#include "tap.h"

typedef int (*spec_fn)(struct json_object *, struct json_object **, char *,
    size_t);

/* Run fn on the spec in text; the normal form as text, or NULL with err. */
static const char *
run(spec_fn fn, const char *text, char *err, size_t errlen)
{
	static char		 out[2048];
	struct json_object	*spec, *norm = (struct json_object *)1;
	const char		*rc = NULL;

	err[0] = '\0';
	if ((spec = json_tokener_parse(text)) == NULL)
		return "unparsable test input";
	if (fn(spec, &norm, err, errlen) == 0) {
		snprintf(out, sizeof(out), "%s",
		    json_object_to_json_string_ext(norm,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		rc = out;
		json_object_put(norm);
	} else if (norm != NULL)
		rc = "refused, but *norm is not NULL";
	json_object_put(spec);
	return rc;
}

static void
test_datasource(void)
{
	static const struct {
		const char	*in, *want;
	} good[] = {
		{ "{\"plugin\":{\"kind\":\"P\"}}",
		  "{\"default\":false,\"plugin\":{\"kind\":\"P\",\"spec\":null}}" },
		{ "{\"default\":true,\"x\":1,\"display\":{\"name\":\"N\","
		  "\"description\":\"\"},\"plugin\":{\"kind\":\"P\",\"spec\":"
		  "{\"directUrl\":\"http://p\"}}}",
		  "{\"display\":{\"name\":\"N\"},\"default\":true,\"plugin\":"
		  "{\"kind\":\"P\",\"spec\":{\"directUrl\":\"http://p\"}}}" },
		{ "{\"plugin\":{\"kind\":\"P\",\"spec\":{\"a\":[{\"proxy\":"
		  "{\"KIND\":\"httpProxy\",\"Spec\":{\"url\":\"/u\","
		  "\"allowedEndpoints\":[{\"endpointPattern\":\"/api/.*\","
		  "\"method\":\"POST\"}],\"headers\":{\"X\":\"y\"},"
		  "\"secret\":\"s\"}}}]}}}", NULL },
	};
	static const struct {
		const char	*in, *prefix;
	} bad[] = {
		{ "{}", "spec.plugin: required" },
		{ "{\"plugin\":[]}", "spec.plugin: must be an object" },
		{ "{\"plugin\":{}}", "spec.plugin.kind: cannot be empty" },
		{ "{\"plugin\":{\"kind\":7}}", "spec.plugin.kind: must be a string" },
		{ "{\"default\":1,\"plugin\":{\"kind\":\"P\"}}",
		  "spec.default: must be true or false" },
		{ "{\"display\":[],\"plugin\":{\"kind\":\"P\"}}",
		  "spec.display: must be an object" },
		{ "{\"display\":{\"description\":false},\"plugin\":{\"kind\":\"P\"}}",
		  "spec.display.description: must be a string" },
		{ "{\"plugin\":{\"kind\":\"P\",\"spec\":{\"proxy\":{\"kind\":"
		  "\"HTTPProxy\"}}}}",
		  "spec.plugin.spec.proxy.spec: an HTTPProxy needs a spec" },
		{ "{\"plugin\":{\"kind\":\"P\",\"spec\":{\"p\":[0,{\"kind\":"
		  "\"HTTPProxy\",\"spec\":{}}]}}}",
		  "spec.plugin.spec.p[1].spec.url: url cannot be empty" },
		{ "{\"plugin\":{\"kind\":\"P\",\"spec\":{\"proxy\":{\"kind\":"
		  "\"HTTPProxy\",\"spec\":{\"url\":\"u\",\"allowedEndpoints\":"
		  "{}}}}}}",
		  "spec.plugin.spec.proxy.spec.allowedEndpoints: must be an array" },
		{ "{\"plugin\":{\"kind\":\"P\",\"spec\":{\"proxy\":{\"kind\":"
		  "\"HTTPProxy\",\"spec\":{\"url\":\"u\",\"headers\":{\"h\":1}}}}}}",
		  "spec.plugin.spec.proxy.spec.headers.h: must be a string" },
		{ "{\"plugin\":{\"kind\":\"P\",\"spec\":{\"proxy\":{\"kind\":"
		  "\"HTTPProxy\",\"spec\":{\"url\":\"u\",\"secret\":[]}}}}}",
		  "spec.plugin.spec.proxy.spec.secret: must be the name" },
	};
	char		 err[VALIDATE_ERR_MAX];
	const char	*got;
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		got = run(validate_datasource_spec, good[i].in, err,
		    sizeof(err));
		ok(got != NULL && err[0] == '\0', "datasource %zu accepted", i);
		if (good[i].want != NULL)
			is_str(got, good[i].want, "datasource %zu: its normal "
			    "form", i);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		got = run(validate_datasource_spec, bad[i].in, err,
		    sizeof(err));
		ok(got == NULL && strncmp(err, bad[i].prefix,
		    strlen(bad[i].prefix)) == 0, "datasource refused: %s "
		    "(got \"%s\")", bad[i].prefix, err);
	}
}

static void
test_variable(void)
{
	static const struct {
		const char	*in, *want;
	} good[] = {
		{ "{\"kind\":\"TextVariable\",\"spec\":{}}",
		  "{\"kind\":\"TextVariable\",\"spec\":{\"value\":\"\"}}" },
		{ "{\"kind\":\"TextVariable\",\"spec\":{\"value\":\"v\","
		  "\"constant\":true,\"display\":{\"name\":\"N\"}}}",
		  "{\"kind\":\"TextVariable\",\"spec\":{\"display\":{\"name\":"
		  "\"N\",\"hidden\":false},\"value\":\"v\",\"constant\":true}}" },
		{ "{\"kind\":\"ListVariable\",\"spec\":{\"defaultValue\":[\"a\"],"
		  "\"plugin\":{\"kind\":\"P\",\"spec\":{}}}}",
		  "{\"kind\":\"ListVariable\",\"spec\":{\"defaultValue\":\"a\","
		  "\"allowAllValue\":false,\"allowMultiple\":false,\"plugin\":"
		  "{\"kind\":\"P\",\"spec\":{}}}}" },
		{ "{\"kind\":\"ListVariable\",\"spec\":{\"defaultValue\":[\"a\","
		  "\"b\"],\"allowMultiple\":true,\"allowAllValue\":true,"
		  "\"customAllValue\":\".*\",\"sort\":\"numerical-desc\","
		  "\"capturingRegexp\":\"(.*)\",\"plugin\":{\"kind\":\"P\"}}}",
		  "{\"kind\":\"ListVariable\",\"spec\":{\"defaultValue\":[\"a\","
		  "\"b\"],\"allowAllValue\":true,\"allowMultiple\":true,"
		  "\"customAllValue\":\".*\",\"capturingRegexp\":\"(.*)\","
		  "\"sort\":\"numerical-desc\",\"plugin\":{\"kind\":\"P\","
		  "\"spec\":null}}}" },
	};
	static const struct {
		const char	*in, *prefix;
	} bad[] = {
		{ "{}", "spec.kind: variable.kind cannot be empty" },
		{ "{\"kind\":\"textvariable\",\"spec\":{}}",
		  "spec.kind: unknown variable.kind \"textvariable\"" },
		{ "{\"kind\":\"TextVariable\"}", "spec.spec: required" },
		{ "{\"kind\":\"TextVariable\",\"spec\":{\"constant\":true}}",
		  "spec.spec.value: value for a constant text variable" },
		{ "{\"kind\":\"TextVariable\",\"spec\":{\"display\":{\"hidden\":"
		  "1}}}", "spec.spec.display.hidden: must be true or false" },
		{ "{\"kind\":\"ListVariable\",\"spec\":{}}",
		  "spec.spec.plugin: required" },
		{ "{\"kind\":\"ListVariable\",\"spec\":{\"allowMultiple\":\"yes\","
		  "\"plugin\":{\"kind\":\"P\"}}}",
		  "spec.spec.allowMultiple: must be true or false" },
		{ "{\"kind\":\"ListVariable\",\"spec\":{\"customAllValue\":\"*\","
		  "\"plugin\":{\"kind\":\"P\"}}}",
		  "spec.spec.customAllValue: customAllValue cannot be set" },
		{ "{\"kind\":\"ListVariable\",\"spec\":{\"defaultValue\":[\"a\","
		  "\"b\"],\"plugin\":{\"kind\":\"P\"}}}",
		  "spec.spec.defaultValue: you can not use a list" },
		{ "{\"kind\":\"ListVariable\",\"spec\":{\"defaultValue\":[1],"
		  "\"allowMultiple\":true,\"plugin\":{\"kind\":\"P\"}}}",
		  "spec.spec.defaultValue: unable to unmarshal" },
		{ "{\"kind\":\"ListVariable\",\"spec\":{\"sort\":\"up\","
		  "\"plugin\":{\"kind\":\"P\"}}}",
		  "spec.spec.sort: unknown sort method \"up\"" },
	};
	char		 err[VALIDATE_ERR_MAX];
	const char	*got;
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		got = run(validate_variable_spec, good[i].in, err, sizeof(err));
		is_str(got, good[i].want, "variable %zu: accepted, normal "
		    "form", i);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		got = run(validate_variable_spec, bad[i].in, err, sizeof(err));
		ok(got == NULL && strncmp(err, bad[i].prefix,
		    strlen(bad[i].prefix)) == 0, "variable refused: %s "
		    "(got \"%s\")", bad[i].prefix, err);
	}
}

static void
test_variable_name(void)
{
	static const char *const good[] = { "a", "job", "a1", "_", "a-b",
	    "a.b", "1a", "1-2", "x_y_z" };
	static const char *const bad[] = { "1", "123", "a-b-c", "a.b.c",
	    "-.", "__x", "__" };
	char	 err[VALIDATE_ERR_MAX];
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(validate_variable_name(good[i], err, sizeof(err)) == 0,
		    "variable name \"%s\" accepted", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(validate_variable_name(bad[i], err, sizeof(err)) == -1 &&
		    strncmp(err, "metadata.name: ", 15) == 0,
		    "variable name \"%s\" refused: %s", bad[i], err);
}

/* A message cut by a small buffer keeps whole UTF-8 characters. */
static void
test_cut(void)
{
	static const char prefix[] = "spec.kind: unknown variable.kind \"";
	struct json_object	*spec, *norm;
	char			 e36[36], e37[37], e12[12];

	spec = json_tokener_parse("{\"kind\":\"\xc3\xa9\xc3\xa9\"}");
	/* 35 bytes of room end inside the first "é": it goes whole. */
	ok(validate_variable_spec(spec, &norm, e36, sizeof(e36)) == -1 &&
	    norm == NULL && strcmp(e36, prefix) == 0,
	    "cut before a character that does not fit: \"%s\"", e36);
	ok(validate_variable_spec(spec, &norm, e37, sizeof(e37)) == -1 &&
	    strncmp(e37, prefix, sizeof(prefix) - 1) == 0 &&
	    strcmp(e37 + sizeof(prefix) - 1, "\xc3\xa9") == 0,
	    "a character that fits is kept: \"%s\"", e37);
	json_object_put(spec);
	ok(validate_variable_name("1", e12, sizeof(e12)) == -1 &&
	    strlen(e12) == sizeof(e12) - 1, "a long message fills the buffer");
}

int
main(void)
{
	test_datasource();
	test_variable();
	test_variable_name();
	test_cut();
	return done_testing();
}
