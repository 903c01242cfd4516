// Byte-to-text encodings the event formats need: UTF-8 validation, base64, percent
// encoding for HTTP header values, RFC 3339 timestamps.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::worker {

// The bytes of a record's key, value or header value as the plugin ABI gives them
// (nullptr: null, seen as empty).
inline std::string_view bytes_of(const void* p, std::size_t n) {
  return p == nullptr ? std::string_view{} : std::string_view(static_cast<const char*>(p), n);
}

// Well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s);

std::string base64(std::string_view bytes);
// Standard alphabet, padding required; false for anything else.
bool base64_decode(std::string_view text, std::string& out);

// For an HTTP header value that carries bytes: bytes outside printable ASCII, the space,
// '%' and '"' become %XX (the CloudEvents HTTP binding's rule), so that every byte
// survives a server that trims or folds a field value; percent-decoding gives them back.
std::string percent_encode(std::string_view bytes);
// For a header value that is read as HTTP text (Content-Type): only bytes outside
// printable ASCII become %XX, so "text/plain; charset=utf-8" stays as it is.
std::string field_value(std::string_view bytes);

// A-Z to a-z, nothing else changed (header names and media types are ASCII-case-insensitive).
std::string ascii_lower(std::string_view s);

// "2024-06-18T05:09:00.123Z" for milliseconds since the epoch.
std::string rfc3339_ms(std::int64_t epoch_ms);

// True when `s` is JSON nested no deeper than `max_depth` (a cheap pre-check, so that a
// hostile value cannot exhaust the parser's stack; it does not validate the JSON).
bool nesting_at_most(std::string_view s, int max_depth);

// True when `s` is one JSON value and nothing more. nlohmann's parser takes a NUL byte
// for the end of its input, so "1\0anything" passed it; JSON text never holds one (a
// string must escape it), so a NUL anywhere is refused first.
bool one_json_value(std::string_view s);

// `s` without JSON's white space (space, tab, CR, LF) at its ends.
std::string_view trim_json_space(std::string_view s);

// Record values nested deeper than this are passed on as text rather than parsed.
constexpr int kMaxValueJsonDepth = 256;

}  // namespace sluice::worker
