#include "worker/exec_frame.hpp"

#include <charconv>
#include <strings.h>

namespace sluice::worker {
namespace {

bool parse_size(std::string_view s, std::size_t& out) {
  if (s.empty() || s.size() > 12) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

void append_header_block(std::string& out, const HeaderList& headers) {
  for (const auto& [n, v] : headers) {
    out += n;
    out += ": ";
    out += v;
    out += '\n';
  }
}

}  // namespace

std::optional<std::string_view> Frame::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n.size() == name.size() && strncasecmp(n.data(), name.data(), n.size()) == 0) return v;
  }
  return std::nullopt;
}

std::size_t header_block_size(const HeaderList& headers) {
  std::size_t bytes = 0;
  for (const auto& [n, v] : headers) bytes += n.size() + 2 + v.size() + 1;
  return bytes;
}

std::string encode_frame(const HeaderList& headers, std::string_view body) {
  const std::size_t header_bytes = header_block_size(headers);
  std::string out = std::to_string(header_bytes) + ' ' + std::to_string(body.size()) + '\n';
  out.reserve(out.size() + header_bytes + body.size());
  append_header_block(out, headers);
  out += body;
  return out;
}

std::string encode_header_block(const HeaderList& headers) {
  std::string out;
  out.reserve(header_block_size(headers));
  append_header_block(out, headers);
  return out;
}

FrameReader::State FrameReader::feed(std::string_view bytes) {
  buffer_.append(bytes);
  return parse();
}

FrameReader::State FrameReader::parse() {
  if (frame_end_ != 0) return State::kComplete;
  const std::size_t nl = buffer_.find('\n');
  if (nl == std::string::npos) {
    if (buffer_.size() > 32) {
      error_ = "the frame does not start with \"<header bytes> <body bytes>\\n\"";
      return State::kMalformed;
    }
    return State::kNeedMore;
  }
  const std::string_view line(buffer_.data(), nl);
  const std::size_t sp = line.find(' ');
  std::size_t hlen = 0;
  std::size_t blen = 0;
  if (sp == std::string_view::npos || !parse_size(line.substr(0, sp), hlen) || !parse_size(line.substr(sp + 1), blen)) {
    error_ = "bad frame length line \"" + std::string(line.substr(0, 40)) + "\"";
    return State::kMalformed;
  }
  if (hlen > kMaxFrameHeaderBytes || blen > kMaxFrameBodyBytes) {
    error_ = "frame too large (" + std::to_string(hlen) + " header bytes, " + std::to_string(blen) + " body bytes)";
    return State::kMalformed;
  }
  if (buffer_.size() < nl + 1 + hlen + blen) return State::kNeedMore;

  frame_ = Frame{};
  std::string_view block(buffer_.data() + nl + 1, hlen);
  while (!block.empty()) {
    const std::size_t end = block.find('\n');
    if (end == std::string_view::npos) {
      error_ = "the header block does not end with a newline";
      return State::kMalformed;
    }
    std::string_view l = block.substr(0, end);
    block.remove_prefix(end + 1);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    const std::size_t colon = l.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      error_ = "header line without a name: \"" + std::string(l.substr(0, 40)) + "\"";
      return State::kMalformed;
    }
    std::string_view value = l.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    frame_.headers.emplace_back(std::string(l.substr(0, colon)), std::string(value));
  }
  frame_.body.assign(buffer_, nl + 1 + hlen, blen);
  frame_end_ = nl + 1 + hlen + blen;
  return State::kComplete;
}

Frame FrameReader::take() {
  Frame f = std::move(frame_);
  buffer_.erase(0, frame_end_);
  frame_end_ = 0;
  return f;
}

void FrameReader::reset() {
  buffer_.clear();
  frame_end_ = 0;
  error_.clear();
}

}  // namespace sluice::worker
