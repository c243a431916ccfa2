# Writes OUTPUT, a C++ source that defines dg::policy::validation_schema() as the bytes of SCHEMA
# (docs/schemas/validation.schema.json), so that the daemon and the documentation share one text.
file(READ "${SCHEMA}" text)
if(text MATCHES "\\)dg_schema\"")
  message(FATAL_ERROR "${SCHEMA} contains the raw string delimiter )dg_schema\"")
endif()
file(WRITE "${OUTPUT}"
     "// Generated from docs/schemas/validation.schema.json by policy/embed_schema.cmake.\n"
     "#include \"policy/validation_schema.hpp\"\n\n"
     "namespace dg::policy {\n\n"
     "std::string_view validation_schema() {\n"
     "  static constexpr char k_text[] = R\"dg_schema(${text})dg_schema\";\n"
     "  return {k_text, sizeof(k_text) - 1};\n"
     "}\n\n"
     "} // namespace dg::policy\n")
