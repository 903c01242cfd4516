#include "worker/json_text.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

#include "worker/text_codec.hpp"

namespace sluice::worker {

namespace {

bool plain(unsigned char c) { return c >= 0x20 && c != '"' && c != '\\'; }

// Whether any of 8 bytes needs escaping (a control byte, '"' or '\\'), a word at a time:
// the classic "has a zero byte" test, exact about whether one exists.
bool needs_escape(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  const auto has_zero = [](std::uint64_t v) { return ((v - kOnes) & ~v & kHigh) != 0; };
  const bool below_space = ((w - kOnes * 0x20) & ~w & kHigh) != 0;
  return below_space || has_zero(w ^ (kOnes * '"')) || has_zero(w ^ (kOnes * '\\'));
}

template <typename Float>
void append_float(std::string& out, Float f) {
  if (std::isnan(f)) {
    out += "\"NaN\"";
    return;
  }
  if (std::isinf(f)) {
    out += f > 0 ? "\"Infinity\"" : "\"-Infinity\"";
    return;
  }
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f);
  const std::string_view text(buf, static_cast<std::size_t>(end - buf));
  out += text;
  if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
}

}  // namespace

bool append_json_string(std::string& out, std::string_view s) {
  if (!valid_utf8(s)) return false;
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s.size() - i >= 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, s.data() + i, 8);
      if (!needs_escape(word)) {
        i += 7;
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (plain(c)) continue;
    out.append(s, run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
  }
  out.append(s, run, s.size() - run);
  out += '"';
  return true;
}

void append_json_number(std::string& out, std::int64_t n) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, end);
}

void append_json_number(std::string& out, double d) { append_float(out, d); }
void append_json_number(std::string& out, float f) { append_float(out, f); }

}  // namespace sluice::worker
