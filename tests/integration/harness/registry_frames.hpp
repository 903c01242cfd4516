// Records framed as Confluent's serializers frame them (magic byte 0, the schema id in 4
// bytes big-endian, for Protobuf the message indexes, then the data), encoded by tools
// independent of the libraries sluice decodes with: python3-avro for Avro
// (handlers/avro_frame.py), protoc --encode for Protobuf (handlers/protobuf_frame.py).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sluice::test {

// jobs: [{"schema": text, "id": n, "datum": value}, ...]; one framed value per job.
// `dir` holds the script's input and output files.
std::vector<std::string> avro_frames(const std::filesystem::path& dir, const nlohmann::json& jobs);

// jobs: [{"schema": .proto text, "id": n, "type": "pkg.Message", "indexes": [0],
// "text": the message in protobuf's text format}, ...]; one framed value per job.
std::vector<std::string> protobuf_frames(const std::filesystem::path& dir, const nlohmann::json& jobs);

}  // namespace sluice::test
