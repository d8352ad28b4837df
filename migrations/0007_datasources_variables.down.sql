-- 0007_datasources_variables.down.sql -- reverts
-- 0007_datasources_variables.up.sql: the datasource and variable
-- tables (with every stored document) and their functions.

DROP FUNCTION variable_scope(text, timestamptz);
DROP FUNCTION datasource_builtin_since(text);
DROP FUNCTION datasource_builtin_since();
DROP FUNCTION datasource_scope(text, timestamptz);
DROP FUNCTION variable_doc(variable);
DROP FUNCTION datasource_doc(datasource);
DROP FUNCTION scoped_doc_metadata(text, text, integer, timestamptz, timestamptz);
DROP TABLE variable_edit;
DROP TABLE variable;
DROP TABLE datasource_edit;
DROP TABLE datasource;
DROP FUNCTION datasource_builtin_name(text);
