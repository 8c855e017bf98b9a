#include "chorus/docstore/opslog_format.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

#include "chorus/docstore/store.h"

namespace chorus::docstore {
namespace {

namespace fs = std::filesystem;

// ---- Small helpers ---------------------------------------------------------------------------

Status corrupt(const std::string& file, const std::string& what) {
  return Status::Corruption(file + ": " + what);
}

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::IoError("cannot read " + path);
  return ss.str();
}

Status write_text(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::IoError("cannot create " + tmp);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) return Status::IoError("cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::IoError("cannot rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

// A directory we may fill: absent (created) or empty.
Status prepare_target(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) return Status::AlreadyExists(dir + " exists and is not a dir");
    if (!fs::is_empty(dir, ec)) return Status::AlreadyExists(dir + " exists and is not empty");
    return Status::Ok();
  }
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create " + dir + ": " + ec.message());
  return Status::Ok();
}

bool is_uint(const Json& j) { return j.is_number_unsigned() || (j.is_number_integer() && j >= 0); }

// "YYYY-MM-DDTHH:MM:SS.sssZ" (Date.prototype.toISOString) <-> ms since the epoch.
std::optional<uint64_t> parse_iso_ms(const std::string& s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0, n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y, &mo, &d, &h, &mi, &sec, &ms,
                  &n) != 7 ||
      static_cast<size_t>(n) != s.size()) {
    return std::nullopt;
  }
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || y < 1970 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  auto t = sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec} + milliseconds{ms};
  return static_cast<uint64_t>(duration_cast<milliseconds>(t.time_since_epoch()).count());
}

std::string iso_from_ms(uint64_t ms_since_epoch) {
  using namespace std::chrono;
  sys_time<milliseconds> t{milliseconds{ms_since_epoch}};
  auto dp = floor<std::chrono::days>(t);
  year_month_day ymd{dp};
  hh_mm_ss tod{t - dp};
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(tod.hours().count()),
                int(tod.minutes().count()), int(tod.seconds().count()),
                int(tod.subseconds().count()));
  return buf;
}

uint64_t wall_now_ms() { return SystemClock::instance().wall_ms(); }

// A clock whose wall time the importer sets to each op's timestamp.
class ReplayClock final : public Clock {
 public:
  uint64_t now_ns() const override { return SystemClock::instance().now_ns(); }
  uint64_t wall_ms() const override { return ms; }
  uint64_t ms = 0;
};

// ---- Reading opslog --------------------------------------------------------------------------

struct OpslogOp {
  OpType type = OpType::kSet;
  std::string id;
  Json data;
  Json prev;  // null, a full record, or a delta (encoding "delta")
  bool delta = false;
  uint64_t ts_ms = 0;
  uint64_t clock = 0;
  std::string agent;
  std::string where;  // file:line
};

struct OpslogStore {
  uint32_t version = 1;
  uint64_t checkpoint_ms = 0;
  std::vector<std::pair<std::string, Json>> snapshot;                         // in file order
  std::vector<std::pair<std::string, std::map<std::string, Json>>> archives;  // period, records
  bool multi = false;
  std::vector<OpslogOp> ops;  // in opslog's replay order
};

// A path from the manifest, relative to the store and staying inside it.
Result<std::string> inside(const std::string& dir, const std::string& rel, const std::string& mf) {
  if (rel.empty() || rel[0] == '/' || rel.find("..") != std::string::npos) {
    return corrupt(mf, "path '" + rel + "' is not inside the store");
  }
  return dir + "/" + rel;
}

// Calls f(line_no, line) for each non-blank line of `text` from byte `pos` on (line numbers
// from `line_no` + 1); stops at the first error f returns.
template <typename F>
Status for_each_line(std::string_view text, size_t pos, size_t line_no, F&& f) {
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    ++line_no;
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    CHORUS_TRY(f(line_no, line));
  }
  return Status::Ok();
}

Status read_snapshot(const std::string& path, OpslogStore& out) {
  CHORUS_ASSIGN_OR_RETURN(std::string text, read_text(path));
  size_t nl = text.find('\n');
  Json first = Json::parse(text.substr(0, nl), nullptr, false);
  if (first.is_discarded() || (first.is_object() && first.contains("records"))) {
    // Legacy: the whole file is one JSON object.
    Json all = Json::parse(text, nullptr, false);
    if (all.is_discarded() || !all.is_object()) return corrupt(path, "snapshot is not JSON");
    if (!all.contains("records") || !all["records"].is_object()) {
      return corrupt(path, "snapshot has no \"records\" object");
    }
    for (auto& [id, v] : all["records"].items()) out.snapshot.emplace_back(id, v);
    return Status::Ok();
  }
  if (!first.is_object() || !first.contains("version") || !is_uint(first["version"])) {
    return corrupt(path, "line 1: snapshot header needs a numeric \"version\"");
  }
  const size_t body = nl == std::string::npos ? text.size() : nl + 1;
  return for_each_line(text, body, 1, [&](size_t line_no, std::string_view line) {
    Json e = Json::parse(line, nullptr, false);
    if (e.is_discarded() || !e.is_object() || !e.contains("id") || !e["id"].is_string() ||
        !e.contains("data")) {
      return corrupt(path, "line " + std::to_string(line_no) + ": not a {\"id\",\"data\"} record");
    }
    out.snapshot.emplace_back(e["id"].get<std::string>(), std::move(e["data"]));
    return Status::Ok();
  });
}

Status read_archive(const std::string& path, OpslogStore& out) {
  CHORUS_ASSIGN_OR_RETURN(std::string text, read_text(path));
  Json a = Json::parse(text, nullptr, false);
  if (a.is_discarded() || !a.is_object()) return corrupt(path, "archive segment is not JSON");
  if (!a.contains("period") || !a["period"].is_string() || a["period"].get<std::string>().empty())
    return corrupt(path, "archive segment needs a non-empty \"period\"");
  if (!a.contains("records") || !a["records"].is_object())
    return corrupt(path, "archive segment needs a \"records\" object");
  std::map<std::string, Json> recs;
  for (auto& [id, v] : a["records"].items()) recs.emplace(id, v);
  out.archives.emplace_back(a["period"].get<std::string>(), std::move(recs));
  return Status::Ok();
}

Status read_ops(const std::string& path, const std::string& agent, OpslogStore& out) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::NotFound(path + ": ops file named by the manifest");
  CHORUS_ASSIGN_OR_RETURN(std::string text, read_text(path));
  return for_each_line(text, 0, 0, [&](size_t line_no, std::string_view line) {
    std::string where = path + " line " + std::to_string(line_no);
    auto bad = [&](const std::string& what) { return Status::Corruption(where + ": " + what); };
    Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
    OpslogOp op;
    op.where = where;
    if (!j.contains("ts") || !j["ts"].is_string()) return bad("\"ts\" must be a string");
    auto ts = parse_iso_ms(j["ts"].get<std::string>());
    if (!ts) return bad("\"ts\" is not an ISO-8601 UTC timestamp");
    op.ts_ms = *ts;
    if (!j.contains("op") || !j["op"].is_string()) return bad("\"op\" must be a string");
    std::string kind = j["op"].get<std::string>();
    if (kind == "set") {
      op.type = OpType::kSet;
    } else if (kind == "delete") {
      op.type = OpType::kDelete;
    } else {
      return bad("\"op\" must be \"set\" or \"delete\"");
    }
    if (!j.contains("id") || !j["id"].is_string() || j["id"].get<std::string>().empty())
      return bad("\"id\" must be a non-empty string");
    op.id = j["id"].get<std::string>();
    if (!j.contains("prev")) return bad("missing \"prev\"");
    op.prev = j["prev"];
    if (!op.prev.is_null() && !op.prev.is_object())
      return bad("\"prev\" must be an object or null");
    if (op.type == OpType::kSet) {
      if (!j.contains("data") || j["data"].is_null()) return bad("set op needs non-null \"data\"");
      op.data = j["data"];
    } else {
      if (j.contains("data")) return bad("delete op has \"data\"");
      if (op.prev.is_null()) return bad("delete op needs a non-null \"prev\"");
    }
    if (j.contains("encoding")) {
      if (j["encoding"] == "delta") {
        op.delta = true;
      } else if (j["encoding"] != "full") {
        return bad("\"encoding\" must be \"full\" or \"delta\"");
      }
    }
    if (j.contains("agent")) {
      if (!j["agent"].is_string() || j["agent"].get<std::string>().empty())
        return bad("\"agent\" must be a non-empty string");
      op.agent = j["agent"].get<std::string>();
    } else {
      op.agent = agent;
    }
    if (j.contains("clock")) {
      if (!is_uint(j["clock"])) return bad("\"clock\" must be a non-negative integer");
      op.clock = j["clock"].get<uint64_t>();
    }
    out.ops.push_back(std::move(op));
    return Status::Ok();
  });
}

// opslog breaks clock ties with String.prototype.localeCompare; for ASCII ids that is close to:
// case-insensitive first, then lower case before upper case.
bool locale_less(const std::string& a, const std::string& b) {
  auto fold = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  std::string fa = fold(a), fb = fold(b);
  if (fa != fb) return fa < fb;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i] != b[i]) return std::islower(static_cast<unsigned char>(a[i])) != 0;
  }
  return a.size() < b.size();
}

Result<OpslogStore> read_opslog(const std::string& dir) {
  std::string mf = dir + "/manifest.json";
  std::error_code ec;
  if (!fs::exists(mf, ec)) return Status::NotFound(mf + " not found: not an opslog directory");
  CHORUS_ASSIGN_OR_RETURN(std::string text, read_text(mf));
  Json m = Json::parse(text, nullptr, false);
  if (m.is_discarded() || !m.is_object()) return corrupt(mf, "not a JSON object");
  OpslogStore out;
  if (!m.contains("version") || !is_uint(m["version"]) || m["version"].get<uint64_t>() < 1 ||
      m["version"].get<uint64_t>() > UINT32_MAX)
    return corrupt(mf, "\"version\" must be a positive integer");
  out.version = m["version"].get<uint32_t>();
  if (!m.contains("currentSnapshot") || !m["currentSnapshot"].is_string())
    return corrupt(mf, "missing \"currentSnapshot\"");
  if (!m.contains("activeOps") || !m["activeOps"].is_string())
    return corrupt(mf, "missing \"activeOps\"");
  if (!m.contains("archiveSegments") || !m["archiveSegments"].is_array())
    return corrupt(mf, "\"archiveSegments\" must be an array");
  if (m.contains("stats") && m["stats"].is_object() && m["stats"].contains("lastCheckpoint") &&
      m["stats"]["lastCheckpoint"].is_string()) {
    out.checkpoint_ms = parse_iso_ms(m["stats"]["lastCheckpoint"].get<std::string>()).value_or(0);
  }
  CHORUS_ASSIGN_OR_RETURN(std::string snap,
                          inside(dir, m["currentSnapshot"].get<std::string>(), mf));
  if (!fs::exists(snap, ec)) return Status::NotFound(snap + ": snapshot named by " + mf);
  CHORUS_TRY(read_snapshot(snap, out));
  for (const Json& seg : m["archiveSegments"]) {
    if (!seg.is_string()) return corrupt(mf, "\"archiveSegments\" entries must be strings");
    CHORUS_ASSIGN_OR_RETURN(std::string p, inside(dir, seg.get<std::string>(), mf));
    if (!fs::exists(p, ec)) return Status::NotFound(p + ": archive segment named by " + mf);
    CHORUS_TRY(read_archive(p, out));
  }
  if (m.contains("activeAgentOps") && !m["activeAgentOps"].is_null()) {
    if (!m["activeAgentOps"].is_object()) return corrupt(mf, "\"activeAgentOps\" not an object");
    out.multi = true;
    for (auto& [agent, rel] : m["activeAgentOps"].items()) {
      if (!rel.is_string()) return corrupt(mf, "\"activeAgentOps\" values must be strings");
      CHORUS_ASSIGN_OR_RETURN(std::string p, inside(dir, rel.get<std::string>(), mf));
      CHORUS_TRY(read_ops(p, agent, out));
    }
    // opslog's replay order: by clock, then agent.
    std::stable_sort(out.ops.begin(), out.ops.end(), [](const OpslogOp& a, const OpslogOp& b) {
      return a.clock != b.clock ? a.clock < b.clock : locale_less(a.agent, b.agent);
    });
  } else {
    CHORUS_ASSIGN_OR_RETURN(std::string p, inside(dir, m["activeOps"].get<std::string>(), mf));
    CHORUS_TRY(read_ops(p, "", out));
  }
  return out;
}

Json apply_delta(Json record, const Json& patch) {
  if (!record.is_object()) record = Json::object();
  if (patch.contains("$set") && patch["$set"].is_object()) {
    for (auto& [k, v] : patch["$set"].items()) record[k] = v;
  }
  if (patch.contains("$unset") && patch["$unset"].is_array()) {
    for (const Json& k : patch["$unset"]) {
      if (k.is_string()) record.erase(k.get<std::string>());
    }
  }
  return record;
}

template <typename Records>
Status set_all(Batch& b, const Records& records) {
  for (const auto& [id, v] : records) CHORUS_TRY(b.set(id, v));
  return Status::Ok();
}

Status replay(Store& s, const OpslogOp& op, bool multi) {
  if (op.type == OpType::kSet) return s.set(op.id, op.data);
  Status st = s.del(op.id);
  // Two agents may both delete a record; in the merged order the second finds it gone, which
  // opslog applies as a no-op too.
  if (multi && st.code() == StatusCode::kNotFound) return Status::Ok();
  if (!st.ok()) return Status::Corruption(op.where + ": " + st.ToString());
  return st;
}

// ---- Writing opslog --------------------------------------------------------------------------

Json op_json(const Op& op, bool multi) {
  Json j = Json::object();
  j["ts"] = iso_from_ms(op.ts_ms);
  j["op"] = op.type == OpType::kSet ? "set" : "delete";
  j["id"] = op.id;
  j["prev"] = op.prev ? *op.prev : Json(nullptr);
  if (op.type == OpType::kSet) j["data"] = op.data ? *op.data : Json(nullptr);
  if (multi) {
    j["agent"] = op.agent;
    j["clock"] = op.clock;
  }
  return j;
}

// "" when s cannot be part of a file name.
std::string safe_name(const std::string& s) {
  if (s == "." || s == ".." || s.find_first_of(std::string("/\0", 2)) != std::string::npos) {
    return "";
  }
  return s;
}

Status import_impl(const std::string& opslog_dir, const std::string& dir, bool& touched) {
  CHORUS_ASSIGN_OR_RETURN(OpslogStore in, read_opslog(opslog_dir));
  // A delta-encoded prev, applied to the new value, gives the previous value.
  for (OpslogOp& op : in.ops) {
    if (op.delta && op.type == OpType::kSet) op.prev = apply_delta(op.data, op.prev);
  }
  CHORUS_TRY(prepare_target(dir));
  touched = true;

  ReplayClock clock;
  clock.ms = in.checkpoint_ms ? in.checkpoint_ms : wall_now_ms();
  Options o;
  o.clock = &clock;
  o.checkpoint_threshold = 0;
  o.checkpoint_on_close = false;
  o.version = in.version == 1 ? 0 : in.version;
  if (o.version > 0) o.migrate = [](Json v, uint32_t) { return v; };
  {
    // One writer: buffer everything and sync once at close(). Agents must be kImmediate.
    Options single = o;
    single.write_mode = WriteMode::kAsync;
    CHORUS_ASSIGN_OR_RETURN(auto s, Store::open(dir, single));
    for (const auto& archive : in.archives) {
      const std::string& period = archive.first;
      const auto& recs = archive.second;  // a named reference: clang 14 lambdas cannot capture
                                          // structured bindings
      if (recs.empty()) continue;
      CHORUS_TRY(s->batch([&](Batch& b) { return set_all(b, recs); }));
      auto moved = s->archive(
          [&](const std::string& id, const Json&) { return recs.count(id) > 0; }, period);
      if (!moved.ok()) return moved.status();
    }
    if (!in.snapshot.empty()) {
      CHORUS_TRY(s->batch([&](Batch& b) { return set_all(b, in.snapshot); }));
    }
    CHORUS_TRY(s->compact());
    if (!in.multi) {
      for (const OpslogOp& op : in.ops) {
        clock.ms = op.ts_ms;
        CHORUS_TRY(replay(*s, op, false));
      }
    }
    CHORUS_TRY(s->close());
  }
  if (in.multi) {
    std::map<std::string, std::unique_ptr<Store>> agents;
    for (const OpslogOp& op : in.ops) {
      auto it = agents.find(op.agent);
      if (it == agents.end()) {
        if (safe_name(op.agent).empty())
          return Status::InvalidArgument(op.where + ": agent '" + op.agent + "' unusable");
        Options ao = o;
        ao.agent_id = op.agent;
        CHORUS_ASSIGN_OR_RETURN(auto s, Store::open(dir, ao));
        it = agents.emplace(op.agent, std::move(s)).first;
      }
      Store& s = *it->second;
      CHORUS_TRY(s.refresh());
      clock.ms = op.ts_ms;
      CHORUS_TRY(replay(s, op, true));
    }
    for (auto& [agent, s] : agents) CHORUS_TRY(s->close());
  }
  return Status::Ok();
}

Status export_impl(const std::string& dir, const std::string& opslog_dir, bool& touched) {
  Options o;
  o.read_only = true;
  CHORUS_ASSIGN_OR_RETURN(auto s, Store::open(dir, o));
  ManifestInfo info = s->manifest();

  std::vector<std::pair<std::string, Json>> snapshot;
  if (!info.manifest.snapshot.empty()) {
    CHORUS_ASSIGN_OR_RETURN(auto reader, s->stream_snapshot());
    SnapshotEntry e;
    while (reader->next(e)) {
      if (!e.tombstone) snapshot.emplace_back(e.id, std::move(e.value));
    }
    CHORUS_TRY(reader->status());
  }
  std::vector<Op> ops = s->ops(0);
  bool multi = false;
  for (const Op& op : ops) multi |= !op.agent.empty();
  for (const Op& op : ops) {
    if (multi && op.agent.empty())
      return Status::InvalidArgument(dir + ": mixes single-writer and agent ops");
    if (op.prev && !op.prev->is_object())
      return Status::InvalidArgument(dir + ": record '" + op.id +
                                     "' has a non-object previous value; opslog needs objects");
    if (op.type == OpType::kSet && (!op.data || op.data->is_null()))
      return Status::InvalidArgument(dir + ": set of '" + op.id + "' to null; opslog refuses it");
  }
  std::vector<std::pair<std::string, std::map<std::string, Json>>> archives;
  for (const std::string& seg : s->list_archive_segments()) {
    if (safe_name(seg).empty()) return Status::InvalidArgument("archive segment '" + seg + "'");
    CHORUS_ASSIGN_OR_RETURN(auto recs, s->load_archive(seg));
    archives.emplace_back(seg, std::move(recs));
  }
  CHORUS_TRY(s->close());

  CHORUS_TRY(prepare_target(opslog_dir));
  touched = true;
  for (const char* sub : {"snapshots", "ops", "archive"}) {
    std::error_code ec;
    fs::create_directories(opslog_dir + "/" + sub, ec);
    if (ec) return Status::IoError("cannot create " + opslog_dir + "/" + sub);
  }
  uint64_t now = wall_now_ms();
  std::string now_iso = iso_from_ms(now);
  uint32_t version = std::max<uint32_t>(1, info.manifest.schema_version);

  std::string snap_rel = "snapshots/snap-" + std::to_string(now) + ".jsonl";
  {
    std::string text = Json{{"version", version}, {"timestamp", now_iso}}.dump() + "\n";
    for (const auto& [id, v] : snapshot) text += Json{{"id", id}, {"data", v}}.dump() + "\n";
    CHORUS_TRY(write_text(opslog_dir + "/" + snap_rel, text));
  }
  Json segs = Json::array();
  uint64_t archived = 0;
  for (const auto& [period, recs] : archives) {
    Json records = Json::object();
    for (const auto& [id, v] : recs) records[id] = v;
    archived += recs.size();
    Json seg = {{"version", 1}, {"period", period}, {"timestamp", now_iso}, {"records", records}};
    std::string rel = "archive/archive-" + period + ".json";
    CHORUS_TRY(write_text(opslog_dir + "/" + rel, seg.dump(2)));
    segs.push_back(rel);
  }
  Json manifest = Json::object();
  manifest["version"] = version;
  manifest["currentSnapshot"] = snap_rel;
  if (!multi) {
    std::string rel = "ops/ops-" + std::to_string(now) + ".jsonl";
    std::string text;
    for (const Op& op : ops) text += op_json(op, false).dump() + "\n";
    CHORUS_TRY(write_text(opslog_dir + "/" + rel, text));
    manifest["activeOps"] = rel;
  } else {
    std::map<std::string, std::string> per_agent;
    for (const Op& op : ops) per_agent[op.agent] += op_json(op, true).dump() + "\n";
    Json agent_ops = Json::object();
    for (const auto& [agent, text] : per_agent) {
      if (safe_name(agent).empty()) return Status::InvalidArgument("agent '" + agent + "'");
      std::string rel = "ops/agent-" + agent + "-" + std::to_string(now) + ".jsonl";
      CHORUS_TRY(write_text(opslog_dir + "/" + rel, text));
      agent_ops[agent] = rel;
      if (!manifest.contains("activeOps")) manifest["activeOps"] = rel;
    }
    manifest["activeAgentOps"] = agent_ops;
  }
  manifest["archiveSegments"] = segs;
  uint64_t created = info.manifest.created_ms ? info.manifest.created_ms : now;
  manifest["stats"] = {{"activeRecords", snapshot.size()},
                       {"archivedRecords", archived},
                       {"opsCount", ops.size()},
                       {"created", iso_from_ms(created)},
                       {"lastCheckpoint", iso_from_ms(created)}};
  return write_text(opslog_dir + "/manifest.json", manifest.dump(2));
}

// The target was absent or empty: on failure, leave it empty again (never half written).
Status clean_on_failure(const std::string& target, Status st, bool touched) {
  if (st.ok() || !touched) return st;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(target, ec)) fs::remove_all(entry.path(), ec);
  return st;
}

}  // namespace

Status import_opslog(const std::string& opslog_dir, const std::string& dir) {
  bool touched = false;
  Status st = import_impl(opslog_dir, dir, touched);
  return clean_on_failure(dir, std::move(st), touched);
}

Status export_opslog(const std::string& dir, const std::string& opslog_dir) {
  bool touched = false;
  Status st = export_impl(dir, opslog_dir, touched);
  return clean_on_failure(opslog_dir, std::move(st), touched);
}

}  // namespace chorus::docstore
