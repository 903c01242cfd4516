// Appending JSON text directly, for printers that walk their own value trees (Avro
// datums): building an nlohmann tree only to dump it cost more than decoding, and its
// string escaper checks UTF-8 one byte at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::worker {

// `s` as a JSON string, quotes included. False (and nothing appended) when `s` is not UTF-8.
bool append_json_string(std::string& out, std::string_view s);
void append_json_number(std::string& out, std::int64_t n);
// Shortest text that reads back as `d`, with ".0" on whole numbers so a reader keeps it a
// float; NaN and the infinities become the strings "NaN", "Infinity", "-Infinity" (JSON
// has no such numbers; the names Avro's Java JSON encoder writes).
void append_json_number(std::string& out, double d);
void append_json_number(std::string& out, float f);

}  // namespace sluice::worker
