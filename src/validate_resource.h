/*
 * validate_resource.h -- the Perses rules for Datasource,
 * GlobalDatasource, Variable and GlobalVariable documents, and their
 * normal form.
 *
 * Owns: the checks of a datasource spec, a variable spec and a variable
 * name; each refusal is "field.path: what is wrong" (paths from the
 * document: spec.plugin.kind), cut to errlen on a UTF-8 boundary.
 * Never: modify the document, keep memory past a call, or touch the
 * database.
 */
#ifndef DASHCGI_VALIDATE_RESOURCE_H
#define DASHCGI_VALIDATE_RESOURCE_H

#include <stddef.h>

#include <json-c/json.h>

/*
 * A DatasourceSpec {display?, default?, plugin {kind, spec}}, with an
 * HTTPProxy in the plugin spec checked as Perses does.  0 with *norm
 * the normal form ({display?, default, plugin}; the caller's to
 * json_object_put), or -1 with *norm NULL and the refusal in err.
 */
int	validate_datasource_spec(struct json_object *spec,
	    struct json_object **norm, char *err, size_t errlen);

/*
 * A VariableSpec {kind: ListVariable|TextVariable, spec}.  0 with *norm
 * the normal form (the caller's), or -1 with *norm NULL and err.
 */
int	validate_variable_spec(struct json_object *spec,
	    struct json_object **norm, char *err, size_t errlen);

/*
 * Perses's rule for a variable's name, on top of validate_name(): not
 * only digits, at most one character outside [A-Za-z0-9_], not "__..".
 * 0, or -1 with "metadata.name: ..." in err.
 */
int	validate_variable_name(const char *name, char *err, size_t errlen);

#endif
