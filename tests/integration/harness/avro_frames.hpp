// Records framed as Confluent's Avro serializer frames them, encoded by python3-avro
// (tests/integration/handlers/avro_frame.py) — not by the Avro C library sluice decodes
// with.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sluice::test {

// jobs: [{"schema": text, "id": n, "datum": value}, ...]; one framed value per job.
// `dir` holds the script's input and output files.
std::vector<std::string> avro_frames(const std::filesystem::path& dir, const nlohmann::json& jobs);

}  // namespace sluice::test
