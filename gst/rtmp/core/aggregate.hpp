// Aggregate messages (RTMP 1.0 section 7.1.6): several audio/video/data messages in one.
//
// The payload is a sequence of sub-messages, each an FLV-tag-like header (type u8, size u24,
// timestamp u24 + extension u8, stream id u24), the data and a 4-byte back pointer.
#pragma once

#include <cstddef>
#include <vector>

#include "core/error.hpp"
#include "core/message.hpp"

namespace rtmp {

// A sub-message costs 15 bytes of payload, so a 16 MiB aggregate could hold a million empty
// ones; no real sender packs more than a few hundred (FMS: about one second of media).
inline constexpr std::size_t kMaxAggregateSubMessages = 4096;

struct AggregateLimits {
  std::size_t max_sub_messages = kMaxAggregateSubMessages; // more -> Errc::limit_exceeded
};

// Splits an aggregate into its sub-messages. Timestamps are rebased on the aggregate's: the
// first sub-message gets the aggregate's timestamp and the others keep their offset from the
// first (32-bit wraparound), as FMS, FFmpeg and nginx-rtmp do. Stream id and chunk stream id are
// the aggregate's (the sub-message stream id field is ignored). Errors: a header or data running
// past the end -> Errc::truncated (the final back pointer may be omitted); a nested aggregate ->
// Errc::malformed; too many sub-messages -> Errc::limit_exceeded.
Result<std::vector<Message>> split_aggregate(const Message &aggregate,
                                             const AggregateLimits &limits = {});

// Builds an aggregate payload from messages (their stream id and chunk stream id are ignored):
// the inverse of split_aggregate, for tests and for senders that want to batch.
Message make_aggregate(const std::vector<Message> &messages, std::uint32_t stream_id);

} // namespace rtmp
