#pragma once
// The alembic.ini and env.py `schemaop import-alembic` writes into its
// scratch directory (alembic_import_env.cpp; design §3.2).
namespace schemaop::database::internal {

extern const char* const kAlembicImportIni;
extern const char* const kAlembicImportEnv;

}  // namespace schemaop::database::internal
