#include "chorus/docstore/snapshot.h"

#include <cstring>

#include "chorus/base/checksum.h"

namespace chorus::docstore {
namespace {

constexpr size_t kBufferBytes = 1u << 20;

uint64_t footer_checksum(uint64_t count) {
  std::byte b[12];
  store_le<uint32_t>(b, kSnapshotFooterMarker);
  store_le<uint64_t>(b + 4, count);
  return checksum64(ByteSpan(b, 12));
}

}  // namespace

Result<std::unique_ptr<SnapshotWriter>> SnapshotWriter::create(FileSystem& fs,
                                                               const std::string& path,
                                                               uint32_t schema_version) {
  std::unique_ptr<SnapshotWriter> w(new SnapshotWriter());
  // A leftover tmp from a crash is garbage: start it over.
  CHORUS_ASSIGN_OR_RETURN(w->file_, fs.open(path, OpenMode::kCreate));
  CHORUS_TRY(w->file_->truncate(0));
  w->buf_.resize(kSnapshotHeaderBytes);
  std::byte* h = w->buf_.data();
  std::memcpy(h, kSnapshotMagic, 8);
  store_le<uint32_t>(h + 8, 1);
  store_le<uint32_t>(h + 12, 0);
  store_le<uint32_t>(h + 16, schema_version);
  store_le<uint32_t>(h + 20, 0);
  store_le<uint64_t>(h + 24, checksum64(ByteSpan(h, 24)));
  return w;
}

Status SnapshotWriter::add(const SnapshotRecord& r) {
  std::string_view value = r.value.value_or(std::string_view());
  uint64_t body = kSnapshotRecordHeaderBytes - 4 + r.id.size() + value.size() + r.agent.size();
  if (body > kSnapshotMaxBodyBytes || r.agent.size() > 0xFFFF) {
    return Status::TooLarge("snapshot record '" + std::string(r.id) + "' too large");
  }
  size_t at = buf_.size();
  buf_.resize(at + 4 + body + 8);
  std::byte* p = buf_.data() + at;
  store_le<uint32_t>(p, static_cast<uint32_t>(body));
  p[4] = std::byte{r.value ? uint8_t{0} : uint8_t{1}};
  store_le<uint32_t>(p + 5, static_cast<uint32_t>(r.id.size()));
  store_le<uint32_t>(p + 9, static_cast<uint32_t>(value.size()));
  store_le<uint64_t>(p + 13, r.clock);
  store_le<uint16_t>(p + 21, static_cast<uint16_t>(r.agent.size()));
  std::byte* q = p + kSnapshotRecordHeaderBytes;
  for (std::string_view s : {r.id, value, r.agent}) {
    if (!s.empty()) std::memcpy(q, s.data(), s.size());
    q += s.size();
  }
  store_le<uint64_t>(p + 4 + body, checksum64(ByteSpan(p, 4 + body)));
  ++count_;
  if (buf_.size() >= kBufferBytes) return flush();
  return Status::Ok();
}

Status SnapshotWriter::flush() {
  if (buf_.empty()) return Status::Ok();
  CHORUS_TRY(file_->write_at(offset_, buf_));
  offset_ += buf_.size();
  buf_.clear();
  return Status::Ok();
}

Status SnapshotWriter::finish() {
  size_t at = buf_.size();
  buf_.resize(at + kSnapshotFooterBytes);
  store_le<uint32_t>(buf_.data() + at, kSnapshotFooterMarker);
  store_le<uint64_t>(buf_.data() + at + 4, count_);
  store_le<uint64_t>(buf_.data() + at + 12, footer_checksum(count_));
  CHORUS_TRY(flush());
  return file_->sync();
}

Result<std::unique_ptr<SnapshotReader>> SnapshotReader::open(FileSystem& fs,
                                                             const std::string& path) {
  std::unique_ptr<SnapshotReader> r(new SnapshotReader());
  r->path_ = path;
  CHORUS_ASSIGN_OR_RETURN(r->file_, fs.open(path, OpenMode::kReadOnly));
  CHORUS_ASSIGN_OR_RETURN(r->size_, r->file_->size());
  ByteSpan h;
  if (!r->read_exact(0, kSnapshotHeaderBytes, h)) {
    if (r->status_.ok()) r->fail(0, "file shorter than the header");
    return r->status_;
  }
  if (std::memcmp(h.data(), kSnapshotMagic, 8) != 0 ||
      load_le<uint64_t>(h.data() + 24) != checksum64(h.subspan(0, 24)) ||
      load_le<uint32_t>(h.data() + 8) != 1) {
    r->fail(0, "bad header (magic, version or checksum)");
    return r->status_;
  }
  r->schema_ = load_le<uint32_t>(h.data() + 16);
  r->pos_ = kSnapshotHeaderBytes;
  return r;
}

bool SnapshotReader::fail(uint64_t at, const std::string& what) {
  status_ = Status::Corruption(path_ + " offset " + std::to_string(at) + ": " + what);
  done_ = true;
  return false;
}

// Points `out` at bytes [at, at + n) through the read buffer (or a one-off buffer for a record
// larger than it). False when the file ends first (status_ stays ok: the caller names it).
bool SnapshotReader::read_exact(uint64_t at, size_t n, ByteSpan& out) {
  if (at + n > size_) return false;
  if (at >= buf_at_ && at + n <= buf_at_ + buf_.size()) {
    out = ByteSpan(buf_).subspan(at - buf_at_, n);
    return true;
  }
  Bytes& dst = n > kBufferBytes ? big_ : buf_;
  size_t want =
      n > kBufferBytes ? n : static_cast<size_t>(std::min<uint64_t>(kBufferBytes, size_ - at));
  dst.resize(want);
  auto got = file_->read_at(at, dst);
  if (!got.ok()) {
    status_ = got.status().Annotate(path_);
    done_ = true;
    return false;
  }
  if (*got < n) return false;
  dst.resize(*got);
  if (&dst == &buf_) buf_at_ = at;
  out = ByteSpan(dst).subspan(0, n);
  return true;
}

bool SnapshotReader::next(SnapshotRecord& out) {
  if (done_) return false;
  ByteSpan len_bytes;
  if (!read_exact(pos_, 4, len_bytes)) {
    return status_.ok() ? fail(pos_, "ends without a footer") : false;
  }
  uint32_t body = load_le<uint32_t>(len_bytes.data());
  if (body == kSnapshotFooterMarker) {
    ByteSpan f;
    if (!read_exact(pos_, kSnapshotFooterBytes, f)) {
      return status_.ok() ? fail(pos_, "truncated footer") : false;
    }
    uint64_t count = load_le<uint64_t>(f.data() + 4);
    if (load_le<uint64_t>(f.data() + 12) != footer_checksum(count)) {
      return fail(pos_, "footer checksum mismatch");
    }
    if (count != count_) {
      return fail(pos_, "footer counts " + std::to_string(count) + " records, read " +
                            std::to_string(count_));
    }
    if (pos_ + kSnapshotFooterBytes != size_) return fail(pos_, "bytes after the footer");
    done_ = true;
    return false;
  }
  if (body < kSnapshotRecordHeaderBytes - 4 || body > size_ - pos_ - 4 ||
      size_ - pos_ - 4 - body < 8) {
    return fail(pos_, "record length " + std::to_string(body) + " out of range");
  }
  ByteSpan rec;
  if (!read_exact(pos_, 4 + body + 8, rec)) {
    return status_.ok() ? fail(pos_, "record truncated") : false;
  }
  if (checksum64(rec.subspan(0, 4 + body)) != load_le<uint64_t>(rec.data() + 4 + body)) {
    return fail(pos_, "record checksum mismatch");
  }
  const std::byte* p = rec.data();
  uint8_t flags = static_cast<uint8_t>(p[4]);
  uint64_t id_len = load_le<uint32_t>(p + 5), value_len = load_le<uint32_t>(p + 9);
  uint64_t agent_len = load_le<uint16_t>(p + 21);
  if (flags > 1 || id_len + value_len + agent_len != body - (kSnapshotRecordHeaderBytes - 4)) {
    return fail(pos_, "record fields do not add up");
  }
  if (flags == 1 && value_len != 0) return fail(pos_, "tombstone with a value");
  const char* q = reinterpret_cast<const char*>(p + kSnapshotRecordHeaderBytes);
  out.id = std::string_view(q, id_len);
  out.value = flags == 1 ? std::nullopt : std::optional(std::string_view(q + id_len, value_len));
  out.clock = load_le<uint64_t>(p + 13);
  out.agent = std::string_view(q + id_len + value_len, agent_len);
  record_at_ = pos_;
  pos_ += 4 + body + 8;
  ++count_;
  return true;
}

bool SnapshotReader::next(SnapshotEntry& out) {
  SnapshotRecord r;
  if (!next(r)) return false;
  out.id.assign(r.id);
  out.tombstone = !r.value;
  out.clock = r.clock;
  out.agent.assign(r.agent);
  out.value = nullptr;
  if (r.value) {
    out.value = Json::parse(*r.value, nullptr, /*allow_exceptions=*/false);
    if (out.value.is_discarded()) return fail(record_at_, "record value is not JSON");
  }
  return true;
}

}  // namespace chorus::docstore
