#pragma once
// sha256 of a file as lowercase hex; database::Sha256Hex (migrator.h) is the
// same for bytes in memory (sha256.cpp holds both). Internal header.
#include <cstdint>
#include <optional>
#include <string>

namespace schemaop::database::internal {

// nullopt when the file cannot be read; *bytes gets its size.
std::optional<std::string> Sha256HexOfFile(const std::string& path, std::uintmax_t* bytes);

}  // namespace schemaop::database::internal
