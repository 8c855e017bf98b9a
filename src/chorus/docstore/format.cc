#include "chorus/docstore/format.h"

#include <cstring>

#include "chorus/base/checksum.h"

namespace chorus::docstore {
namespace {

void put_u8(Bytes& out, uint8_t v) { out.push_back(std::byte{v}); }
template <typename T>
void put_le(Bytes& out, T v) {
  size_t at = out.size();
  out.resize(at + sizeof(T));
  store_le<T>(out.data() + at, v);
}
void put_str(Bytes& out, std::string_view s) {
  auto b = as_bytes(s);
  out.insert(out.end(), b.begin(), b.end());
}

// Reads fields front to back; every length is checked against the bytes that remain.
class Reader {
 public:
  explicit Reader(ByteSpan in) : in_(in) {}
  bool has(size_t n) const { return in_.size() - pos_ >= n; }
  size_t remaining() const { return in_.size() - pos_; }
  template <typename T>
  bool get(T& v) {
    if (!has(sizeof(T))) return false;
    v = load_le<T>(in_.data() + pos_);
    pos_ += sizeof(T);
    return true;
  }
  bool get_str(size_t n, std::string_view& s) {
    if (!has(n)) return false;
    s = as_string_view(in_.subspan(pos_, n));
    pos_ += n;
    return true;
  }

 private:
  ByteSpan in_;
  size_t pos_ = 0;
};

std::optional<Json> parse_json(std::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

size_t encoded_size(const StoredOp& op) {
  return kOpHeaderBytes + op.id.size() + op.data.view().size() + op.prev.view().size();
}

// The layout drawn in format.h, written with one resize.
void put_op(Bytes& out, const StoredOp& op) {
  std::string_view data = op.data.view(), prev = op.prev.view();
  size_t at = out.size();
  out.resize(at + encoded_size(op));
  std::byte* p = out.data() + at;
  p[0] = std::byte{static_cast<uint8_t>(op.type)};
  p[1] = std::byte{static_cast<uint8_t>((op.data ? 1 : 0) | (op.prev ? 2 : 0))};
  store_le<uint64_t>(p + 2, op.ts_ms);
  store_le<uint64_t>(p + 10, op.clock);
  store_le<uint32_t>(p + 18, static_cast<uint32_t>(op.id.size()));
  store_le<uint32_t>(p + 22, static_cast<uint32_t>(data.size()));
  store_le<uint32_t>(p + 26, static_cast<uint32_t>(prev.size()));
  p += kOpHeaderBytes;
  for (std::string_view s : {std::string_view(op.id), data, prev}) {
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
}

std::optional<Json> parse_text(std::optional<std::string_view> text, bool& bad) {
  if (!text) return std::nullopt;
  auto j = parse_json(*text);
  bad = bad || !j;
  return j;
}

}  // namespace

Op StoredOp::to_op() const {
  return Op{type,
            id,
            data ? std::optional<Json>(data.parse()) : std::nullopt,
            prev ? std::optional<Json>(prev.parse()) : std::nullopt,
            ts_ms,
            clock,
            agent};
}

Status RecordBuffer::add_ops(std::span<const StoredOp> ops) {
  CHORUS_ASSERT(!ops.empty(), "an ops record holds at least one op");
  uint64_t bytes = 0;
  for (const StoredOp& op : ops) bytes += encoded_size(op);
  if (kRecordHeaderBytes + bytes > kMaxRecordBytes) {
    return Status::TooLarge("ops of " + std::to_string(bytes) + " bytes are over the " +
                            std::to_string(kMaxRecordBytes) + "-byte record maximum");
  }
  if (!ops_open_ || data_.size() - starts_.back() + bytes > kMaxRecordBytes) {
    starts_.push_back(data_.size());
    put_u8(data_, kRecordVersion);
    put_u8(data_, static_cast<uint8_t>(RecordKind::kOps));
    put_le<uint32_t>(data_, 0);
    ops_open_ = true;
  }
  std::byte* count_at = data_.data() + starts_.back() + 2;
  uint64_t count = load_le<uint32_t>(count_at) + ops.size();
  CHORUS_ASSERT(count <= UINT32_MAX, "ops record count overflows");
  store_le<uint32_t>(count_at, static_cast<uint32_t>(count));
  for (const StoredOp& op : ops) put_op(data_, op);
  return Status::Ok();
}

void RecordBuffer::add_undo(uint64_t target_clock) {
  starts_.push_back(data_.size());
  put_u8(data_, kRecordVersion);
  put_u8(data_, static_cast<uint8_t>(RecordKind::kUndo));
  put_le<uint64_t>(data_, target_clock);
  ops_open_ = false;
}

std::vector<ByteSpan> RecordBuffer::records() const {
  std::vector<ByteSpan> out;
  out.reserve(starts_.size());
  for (size_t i = 0; i < starts_.size(); ++i) {
    size_t end = i + 1 < starts_.size() ? starts_[i + 1] : data_.size();
    out.push_back(ByteSpan(data_).subspan(starts_[i], end - starts_[i]));
  }
  return out;
}

void RecordBuffer::clear() {
  data_.clear();
  starts_.clear();
  ops_open_ = false;
}

void RecordBuffer::swap(RecordBuffer& other) noexcept {
  data_.swap(other.data_);
  starts_.swap(other.starts_);
  std::swap(ops_open_, other.ops_open_);
}

Bytes encode_ops_record(const std::vector<Op>& ops) {
  auto text = [](const std::optional<Json>& v) { return v ? JsonText(v->dump()) : JsonText(); };
  std::vector<StoredOp> stored;
  stored.reserve(ops.size());
  for (const Op& op : ops) {
    stored.push_back({op.type, op.id, text(op.data), text(op.prev), op.ts_ms, op.clock, op.agent});
  }
  RecordBuffer out;
  Status st = out.add_ops(stored);
  CHORUS_ASSERT(st.ok(), st.ToString());
  auto records = out.records();
  return Bytes(records[0].begin(), records[0].end());
}

Bytes encode_undo_record(uint64_t target_clock) {
  RecordBuffer out;
  out.add_undo(target_clock);
  auto records = out.records();
  return Bytes(records[0].begin(), records[0].end());
}

Status decode_record_view(ByteSpan data, RecordView& rec) {
  Reader r(data);
  rec.ops.clear();
  uint8_t version = 0, kind = 0;
  if (!r.get(version) || !r.get(kind)) return Status::Corruption("op record too short");
  if (version != kRecordVersion) {
    return Status::Corruption("op record version " + std::to_string(version) + " unknown");
  }
  if (kind == static_cast<uint8_t>(RecordKind::kUndo)) {
    rec.kind = RecordKind::kUndo;
    if (!r.get(rec.undo_clock) || r.remaining() != 0) {
      return Status::Corruption("undo record malformed");
    }
    return Status::Ok();
  }
  if (kind != static_cast<uint8_t>(RecordKind::kOps)) {
    return Status::Corruption("op record kind " + std::to_string(kind) + " unknown");
  }
  rec.kind = RecordKind::kOps;
  uint32_t count = 0;
  if (!r.get(count) || count == 0 || count > r.remaining() / kOpHeaderBytes) {
    return Status::Corruption("op record count out of range");
  }
  rec.ops.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    OpView op;
    uint8_t type = 0, has = 0;
    uint32_t id_len = 0, data_len = 0, prev_len = 0;
    if (!r.get(type) || !r.get(has) || !r.get(op.ts_ms) || !r.get(op.clock) || !r.get(id_len) ||
        !r.get(data_len) || !r.get(prev_len)) {
      return Status::Corruption("op header truncated");
    }
    if ((type != 1 && type != 2) || has > 3) return Status::Corruption("op type/flags invalid");
    op.type = static_cast<OpType>(type);
    std::string_view d, p;
    if (!r.get_str(id_len, op.id) || !r.get_str(data_len, d) || !r.get_str(prev_len, p)) {
      return Status::Corruption("op length past the end of the record");
    }
    if ((!(has & 1) && data_len != 0) || (!(has & 2) && prev_len != 0)) {
      return Status::Corruption("op value length without its flag");
    }
    if (has & 1) op.data = d;
    if (has & 2) op.prev = p;
    if ((op.type == OpType::kSet) != op.data.has_value()) {
      return Status::Corruption("op data presence does not match its type");
    }
    rec.ops.push_back(op);
  }
  if (r.remaining() != 0) return Status::Corruption("op record has trailing bytes");
  return Status::Ok();
}

Result<DecodedRecord> decode_record(ByteSpan data) {
  RecordView view;
  CHORUS_TRY(decode_record_view(data, view));
  DecodedRecord rec{view.kind, {}, view.undo_clock};
  rec.ops.reserve(view.ops.size());
  for (const OpView& v : view.ops) {
    bool bad = false;
    Op op{v.type,
          std::string(v.id),
          parse_text(v.data, bad),
          parse_text(v.prev, bad),
          v.ts_ms,
          v.clock,
          {}};
    if (bad) return Status::Corruption("op value is not JSON");
    rec.ops.push_back(std::move(op));
  }
  return rec;
}

Bytes encode_manifest(const Manifest& m) {
  Json body = {{"format", 1},
               {"generation", m.generation},
               {"schema_version", m.schema_version},
               {"snapshot", m.snapshot},
               {"snapshot_records", m.snapshot_records},
               {"max_clock", m.max_clock},
               {"created_ms", m.created_ms},
               {"streams", m.streams},
               {"archives", m.archives}};
  std::string text = body.dump();
  CHORUS_ASSERT(text.size() <= kManifestMaxBodyBytes, "manifest too large");
  Bytes out(kManifestHeaderBytes);
  std::memcpy(out.data(), kManifestMagic, 8);
  store_le<uint32_t>(out.data() + 8, static_cast<uint32_t>(text.size()));
  store_le<uint32_t>(out.data() + 12, 0);
  store_le<uint64_t>(out.data() + 16, checksum64(text));
  put_str(out, text);
  return out;
}

Result<Manifest> decode_manifest(ByteSpan data) {
  if (data.size() < kManifestHeaderBytes || std::memcmp(data.data(), kManifestMagic, 8) != 0) {
    return Status::Corruption("manifest: bad magic or too short");
  }
  uint32_t len = load_le<uint32_t>(data.data() + 8);
  if (len > kManifestMaxBodyBytes || len != data.size() - kManifestHeaderBytes) {
    return Status::Corruption("manifest: body length " + std::to_string(len) + " does not match");
  }
  ByteSpan body = data.subspan(kManifestHeaderBytes);
  if (checksum64(body) != load_le<uint64_t>(data.data() + 16)) {
    return Status::Corruption("manifest: checksum mismatch");
  }
  auto j = parse_json(as_string_view(body));
  if (!j || !j->is_object()) return Status::Corruption("manifest: body is not a JSON object");
  Manifest m;
  try {
    if (j->at("format").get<int>() != 1) return Status::Corruption("manifest: unknown format");
    m.generation = j->at("generation").get<uint64_t>();
    m.schema_version = j->at("schema_version").get<uint32_t>();
    m.snapshot = j->at("snapshot").get<std::string>();
    m.snapshot_records = j->at("snapshot_records").get<uint64_t>();
    m.max_clock = j->at("max_clock").get<uint64_t>();
    m.created_ms = j->at("created_ms").get<uint64_t>();
    m.streams = j->at("streams").get<std::map<std::string, uint64_t>>();
    m.archives = j->at("archives").get<std::map<std::string, std::string>>();
  } catch (const Json::exception& e) {
    return Status::Corruption(std::string("manifest: ") + e.what());
  }
  return m;
}

}  // namespace chorus::docstore
