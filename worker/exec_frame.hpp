// Frames of the exec handler's protocol (docs/exec-protocol.md): a line
// "<header bytes> <body bytes>\n", then that many bytes of "Name: value\n" lines, then
// the body. Lengths up front let any language read a frame with two exact reads and no
// escaping, and let sluice tell a truncated or garbled answer from a slow one.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "worker/event_format.hpp"

namespace sluice::worker {

inline constexpr std::size_t kMaxFrameHeaderBytes = 64 << 10;
inline constexpr std::size_t kMaxFrameBodyBytes = 64 << 20;

struct Frame {
  HeaderList headers;
  std::string body;
  // The first header of that name, if any (names compare case-insensitively).
  std::optional<std::string_view> header(std::string_view name) const;
};

// Header values must not contain '\n' (the event formats percent-encode them).
std::string encode_frame(const HeaderList& headers, std::string_view body);
// A frame's header block alone ("Name: value\n" each), as encode_frame() writes it.
std::string encode_header_block(const HeaderList& headers);
// How many bytes that block takes.
std::size_t header_block_size(const HeaderList& headers);

// Accumulates bytes until one whole frame is there.
class FrameReader {
 public:
  enum class State { kNeedMore, kComplete, kMalformed };
  State feed(std::string_view bytes);
  // Valid after kComplete; leaves the reader ready for the next frame.
  Frame take();
  // After kMalformed: what was wrong.
  const std::string& error() const { return error_; }
  // Bytes received past the end of the complete frame (a child that answered twice).
  std::size_t excess() const { return frame_end_ == 0 ? 0 : buffer_.size() - frame_end_; }
  // Bytes held that are not yet taken (a partial frame, or the excess).
  std::size_t buffered() const { return buffer_.size(); }
  void reset();

 private:
  State parse();
  std::string buffer_;
  std::size_t frame_end_ = 0;
  Frame frame_;
  std::string error_;
};

}  // namespace sluice::worker
